"""Switchboard memory server: mem0-style long-term memories and typed, scoped statements.

Memories belong to one (org, customer) pair taken from the connection, never from arguments;
writes are deterministic and fast (dedup, supersede, offline extraction), vectors are computed
in the background, and erasing a memory removes its text everywhere but a hash tombstone.
"""

__version__ = "0.3.0"  # 0.3.0: compact output schemas; 0.2.0: source_message_id, speaker, vectors counts
