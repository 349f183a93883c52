module github.com/agentmock/agentmock

go 1.26.0

require (
	github.com/brianvoe/gofakeit/v7 v7.18.2
	github.com/google/go-cmp v0.7.0
	github.com/julienschmidt/httprouter v1.3.0
	gopkg.in/yaml.v3 v3.0.1
)

require github.com/tidwall/btree v1.8.2

require (
	github.com/chromedp/cdproto v0.159.0
	github.com/chromedp/chromedp v0.23.0
)

require github.com/go-json-experiment/json v0.0.0-20260213210345-44df1a37e875 // indirect
