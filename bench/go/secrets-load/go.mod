module parley.dev/secrets-load

go 1.26.0
