module parley.dev/https-load

go 1.26.0
