module hermes.local/probe

go 1.22
