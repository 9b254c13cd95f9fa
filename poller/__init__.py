"""The poller: reads Zoom's report APIs (sign-ins, operation log, meeting audit trail) and puts each
record on the webhook queue as a job naming its stream, so workers index it like a webhook.

process.py runs the loop (one poller at a time, by a Redis lease: lease.py); cycle.py drains a
stream window by window, moving its cursor (state.py) only once a window is fully enqueued;
api.py makes the requests (OAuth in oauth.py, the client-side limit in limiter.py, backoff on 429,
5xx and connection errors); streams.py says what each report is; window.py computes the dates.
"""
