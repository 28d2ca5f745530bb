-- wrk script: POST a small JSON document to /echo.
wrk.method = "POST"
wrk.body = '{"assistant_id":"agent","input":{"messages":[{"role":"user","content":"hello"}]},"n":[1,2,3]}'
wrk.headers["Content-Type"] = "application/json"
