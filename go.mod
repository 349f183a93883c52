module github.com/agentmock/agentmock

go 1.26.0

require (
	github.com/brianvoe/gofakeit/v7 v7.18.2
	github.com/google/go-cmp v0.7.0
	github.com/julienschmidt/httprouter v1.3.0
	gopkg.in/yaml.v3 v3.0.1
)

require github.com/tidwall/btree v1.8.2
