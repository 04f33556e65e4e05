"""Networks of node processes: configuration on disk, certificates, keys, supervisor, Compose."""
