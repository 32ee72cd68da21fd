"""Demo documents (data only; a package so that installs ship the Markdown files)."""
