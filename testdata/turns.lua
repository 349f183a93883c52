-- wrk script: one turn of a conversation per request (POST .../events), to
-- measure turns a second and the memory that stored events take. See
-- "Conversation memory recipe" in README.md.
wrk.method = "POST"
wrk.headers["x-api-key"] = "k"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"type":"input_message","messages":[{"type":"text","content":"Where is my refund for the order I placed last week?"}]}'
