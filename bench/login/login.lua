-- wrk script: POST a sign-in with the bench user's credentials.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"email":"bench.admin@unoct.example","password":"a sturdy lantern over quiet meadows"}'
