-- wrk script of bench/side_by_side.py: the same bytes load drec and the null nginx.
--
-- Each request is a registry notification envelope with ONE manifest pull (the shape of
-- tests/data/registry-2.8/manifest-pull-get.json) whose id is unique per request and per
-- connection: <prefix>-<thread>-<counter>, so drec applies every one (a repeated id would be
-- dropped as a registry retry and the applied count would not match the requests).
--
-- Usage: wrk ... -s bench/side_by_side.lua https://127.0.0.1:PORT/events -- TOKEN PREFIX
-- done() prints one line the script parses:
--   side_by_side: responses=N non2xx=N
-- (responses counted by the response() hook of every thread, non-2xx among them).

local REPOSITORIES = { "team/app", "team/api", "library/nginx", "ci/builder", "base/debian" }
local TAGS = { "v1", "latest", "1.4.2" }
local DIGEST = "sha256:a3350243e7f3f60fe8606a9efbc06127cbd08bb0d6af13af414e6bf2b7036808"
local EVENT = '{"events":[{"id":"%s","timestamp":"%s","action":"pull",'
  .. '"target":{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":345,'
  .. '"digest":"' .. DIGEST .. '","length":345,"repository":"%s",'
  .. '"url":"https://registry.example:5000/v2/%s/manifests/' .. DIGEST .. '","tag":"%s"},'
  .. '"request":{"id":"%s-r","addr":"10.0.0.%d:55508","host":"registry.example:5000",'
  .. '"method":"GET","useragent":"containerd/1.7.24"},'
  .. '"actor":{"name":"ci-bot"},'
  .. '"source":{"addr":"vm:5000","instanceID":"57e1d1d1-82d6-4b6f-8858-0b7f496249b0"}}]}'

-- The main state: every thread, numbered, so done() can add up their counters.
local threads = {}

function setup(thread)
  thread:set("thread_id", #threads)
  table.insert(threads, thread)
end

-- Each thread's own state from here on (globals are per thread).
responses = 0
non2xx = 0
local counter = 0
local headers = {}

function init(args)
  token = args[1]
  prefix = args[2]
  headers["Content-Type"] = "application/vnd.docker.distribution.events.v1+json"
  headers["Authorization"] = "Bearer " .. token
end

function request()
  counter = counter + 1
  local id = string.format("%s-%d-%d", prefix, thread_id, counter)
  local repository = REPOSITORIES[counter % #REPOSITORIES + 1]
  local tag = TAGS[counter % #TAGS + 1]
  local body = string.format(EVENT, id, os.date("!%Y-%m-%dT%H:%M:%SZ"), repository,
    repository, tag, id, counter % 250 + 1)
  return wrk.format("POST", nil, headers, body)
end

function response(status, headers, body)
  responses = responses + 1
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
  end
end

function done(summary, latency, requests)
  local total, bad = 0, 0
  for _, thread in ipairs(threads) do
    total = total + thread:get("responses")
    bad = bad + thread:get("non2xx")
  end
  io.write(string.format("side_by_side: responses=%d non2xx=%d\n", total, bad))
end
