"""The few things every Switchboard package needs: settings, database, hashing, context, errors."""
