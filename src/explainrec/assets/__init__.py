"""Model and data assets materialised from registry packages, hash-checked."""
