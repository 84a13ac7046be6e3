#include "api/openapi.h"

namespace drec {
namespace {

// Keep in step with query_api.cpp, json_views.cpp and router.cpp: tests/api/api_test.py checks
// every response it receives against this document, so a drift fails the tests.
constexpr std::string_view kDocument = R"json({
  "openapi": "3.0.3",
  "info": {
    "title": "drec",
    "version": "1",
    "description": "drec collects the webhook notifications of a CNCF Distribution registry into per-repository statistics (pushes, pulls, version checks, index pulls, deletes; per tag, digest, actor and UTC day) and serves them here. Every route but /healthz, /readyz and /metrics needs the credentials configured for ingest (a bearer token or a basic-auth user). Times are RFC 3339 UTC with milliseconds, null until set. Errors are {\"error\": \"what was wrong\"}. Routes under /api/ answer 405 to methods other than GET and HEAD, /events to methods other than POST.",
    "license": {"name": "MIT"}
  },
  "servers": [{"url": "https://localhost:8443"}],
  "security": [{"bearer": []}, {"basic": []}],
  "tags": [
    {"name": "ingest", "description": "Registry notifications"},
    {"name": "query", "description": "Statistics"},
    {"name": "probes", "description": "Liveness, readiness, metrics; no credentials"}
  ],
  "paths": {
    "/events": {
      "post": {
        "tags": ["ingest"],
        "operationId": "ingest",
        "summary": "Receive registry notifications (the route is configurable: server.route)",
        "description": "Answers 200 only after every event of the envelope is committed (or was committed before: a duplicate id). Events that parse but are of no use (blob events, mounts, unknown actions or media types, missing fields) are acknowledged and counted as ignored; an event's content never causes a 4xx.",
        "requestBody": {
          "required": true,
          "content": {
            "application/vnd.docker.distribution.events.v1+json": {"schema": {"$ref": "#/components/schemas/Envelope"}},
            "application/vnd.docker.distribution.events.v2+json": {"schema": {"$ref": "#/components/schemas/Envelope"}},
            "application/json": {"schema": {"$ref": "#/components/schemas/Envelope"}}
          }
        },
        "responses": {
          "200": {
            "description": "Every event committed",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/IngestResult"}}}
          },
          "400": {"$ref": "#/components/responses/BadRequest"},
          "401": {"$ref": "#/components/responses/Unauthorized"},
          "405": {"$ref": "#/components/responses/MethodNotAllowed"},
          "413": {
            "description": "Body larger than server.max_body_bytes; drec reads no further",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
          },
          "415": {
            "description": "Content-Type is none of the accepted ones (parameters such as charset are allowed)",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
          },
          "503": {"$ref": "#/components/responses/Unavailable"}
        }
      }
    },
    "/api/v1/repositories": {
      "get": {
        "tags": ["query"],
        "operationId": "listRepositories",
        "summary": "List repositories: sort, filter, page, optionally with counts over a window of days",
        "parameters": [
          {"$ref": "#/components/parameters/sort"},
          {"$ref": "#/components/parameters/prefix"},
          {"$ref": "#/components/parameters/actor"},
          {"$ref": "#/components/parameters/pulled_before"},
          {"$ref": "#/components/parameters/pushed_after"},
          {"$ref": "#/components/parameters/not_pulled_since"},
          {"$ref": "#/components/parameters/window"},
          {"$ref": "#/components/parameters/offset"},
          {"$ref": "#/components/parameters/limit"},
          {"$ref": "#/components/parameters/format"}
        ],
        "responses": {
          "200": {
            "description": "One page of repositories and the number matching the filters",
            "content": {
              "application/json": {"schema": {"$ref": "#/components/schemas/RepositoryList"}},
              "text/csv": {
                "schema": {
                  "type": "string",
                  "description": "A header line, then one line per repository: repositoryname, the five counters, the four times (empty when unset); with a window also window_numpulls, window_numpushs, window_numchecks, window_numindexpulls, window_numdeletes. CRLF line ends, RFC 4180 quoting."
                }
              }
            }
          },
          "400": {"$ref": "#/components/responses/BadRequest"},
          "401": {"$ref": "#/components/responses/Unauthorized"},
          "405": {"$ref": "#/components/responses/MethodNotAllowed"},
          "503": {"$ref": "#/components/responses/Unavailable"}
        }
      }
    },
    "/api/v1/repositories/{name}": {
      "get": {
        "tags": ["query"],
        "operationId": "getRepository",
        "summary": "One repository",
        "description": "Takes no query parameters.",
        "parameters": [{"$ref": "#/components/parameters/name"}],
        "responses": {
          "200": {
            "description": "The repository",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Repository"}}}
          },
          "400": {"$ref": "#/components/responses/BadRequest"},
          "401": {"$ref": "#/components/responses/Unauthorized"},
          "404": {"$ref": "#/components/responses/NotFound"},
          "405": {"$ref": "#/components/responses/MethodNotAllowed"},
          "503": {"$ref": "#/components/responses/Unavailable"}
        }
      }
    },
    "/api/v1/repositories/{name}/-/tags": {
      "get": {
        "tags": ["query"],
        "operationId": "listTags",
        "summary": "The repository's tags, live and deleted, by tag",
        "parameters": [{"$ref": "#/components/parameters/name"}],
        "responses": {
          "200": {
            "description": "Tags",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/TagList"}}}
          },
          "400": {"$ref": "#/components/responses/BadRequest"},
          "401": {"$ref": "#/components/responses/Unauthorized"},
          "404": {"$ref": "#/components/responses/NotFound"},
          "405": {"$ref": "#/components/responses/MethodNotAllowed"},
          "503": {"$ref": "#/components/responses/Unavailable"}
        }
      }
    },
    "/api/v1/repositories/{name}/-/digests": {
      "get": {
        "tags": ["query"],
        "operationId": "listDigests",
        "summary": "The repository's manifests, live and deleted, by digest",
        "parameters": [{"$ref": "#/components/parameters/name"}],
        "responses": {
          "200": {
            "description": "Digests",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/DigestList"}}}
          },
          "400": {"$ref": "#/components/responses/BadRequest"},
          "401": {"$ref": "#/components/responses/Unauthorized"},
          "404": {"$ref": "#/components/responses/NotFound"},
          "405": {"$ref": "#/components/responses/MethodNotAllowed"},
          "503": {"$ref": "#/components/responses/Unavailable"}
        }
      }
    },
    "/api/v1/repositories/{name}/-/actors": {
      "get": {
        "tags": ["query"],
        "operationId": "listActors",
        "summary": "Every named actor of the repository, by name",
        "parameters": [{"$ref": "#/components/parameters/name"}],
        "responses": {
          "200": {
            "description": "Actors",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ActorList"}}}
          },
          "400": {"$ref": "#/components/responses/BadRequest"},
          "401": {"$ref": "#/components/responses/Unauthorized"},
          "404": {"$ref": "#/components/responses/NotFound"},
          "405": {"$ref": "#/components/responses/MethodNotAllowed"},
          "503": {"$ref": "#/components/responses/Unavailable"}
        }
      }
    },
    "/api/v1/repositories/{name}/-/daily": {
      "get": {
        "tags": ["query"],
        "operationId": "listDays",
        "summary": "The repository's counts per UTC day, one entry per day of the range, zero-filled",
        "parameters": [
          {"$ref": "#/components/parameters/name"},
          {"$ref": "#/components/parameters/from"},
          {"$ref": "#/components/parameters/to"}
        ],
        "responses": {
          "200": {
            "description": "Days, ascending",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/DailyList"}}}
          },
          "400": {"$ref": "#/components/responses/BadRequest"},
          "401": {"$ref": "#/components/responses/Unauthorized"},
          "404": {"$ref": "#/components/responses/NotFound"},
          "405": {"$ref": "#/components/responses/MethodNotAllowed"},
          "503": {"$ref": "#/components/responses/Unavailable"}
        }
      }
    },
    "/api/v1/summary": {
      "get": {
        "tags": ["query"],
        "operationId": "summarize",
        "summary": "Totals of every repository, all time, and per UTC day of a range (zero-filled)",
        "parameters": [
          {"$ref": "#/components/parameters/from"},
          {"$ref": "#/components/parameters/to"}
        ],
        "responses": {
          "200": {
            "description": "Totals and days",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Summary"}}}
          },
          "400": {"$ref": "#/components/responses/BadRequest"},
          "401": {"$ref": "#/components/responses/Unauthorized"},
          "405": {"$ref": "#/components/responses/MethodNotAllowed"},
          "503": {"$ref": "#/components/responses/Unavailable"}
        }
      }
    },
    "/api/v1/openapi.json": {
      "get": {
        "tags": ["query"],
        "operationId": "openapi",
        "summary": "This document",
        "responses": {
          "200": {
            "description": "OpenAPI 3.0 document",
            "content": {"application/json": {"schema": {"type": "object", "required": ["openapi", "paths"]}}}
          },
          "401": {"$ref": "#/components/responses/Unauthorized"},
          "405": {"$ref": "#/components/responses/MethodNotAllowed"}
        }
      }
    },
    "/healthz": {
      "get": {
        "tags": ["probes"],
        "operationId": "healthz",
        "summary": "The process is alive",
        "security": [],
        "responses": {
          "200": {"description": "Alive", "content": {"text/plain": {"schema": {"type": "string", "example": "ok\n"}}}},
          "405": {"$ref": "#/components/responses/MethodNotAllowed"}
        }
      }
    },
    "/readyz": {
      "get": {
        "tags": ["probes"],
        "operationId": "readyz",
        "summary": "The store is reachable",
        "security": [],
        "responses": {
          "200": {"description": "Ready", "content": {"text/plain": {"schema": {"type": "string", "example": "ready\n"}}}},
          "405": {"$ref": "#/components/responses/MethodNotAllowed"},
          "503": {"description": "The store is unreachable", "content": {"text/plain": {"schema": {"type": "string"}}}}
        }
      }
    },
    "/metrics": {
      "get": {
        "tags": ["probes"],
        "operationId": "metrics",
        "summary": "Prometheus text exposition; no repository, tag or actor names in labels",
        "security": [],
        "responses": {
          "200": {"description": "Metrics", "content": {"text/plain": {"schema": {"type": "string"}}}},
          "405": {"$ref": "#/components/responses/MethodNotAllowed"}
        }
      }
    }
  },
  "components": {
    "securitySchemes": {
      "bearer": {"type": "http", "scheme": "bearer", "description": "One of auth.tokens"},
      "basic": {"type": "http", "scheme": "basic", "description": "One of auth.basic"}
    },
    "parameters": {
      "name": {
        "name": "name",
        "in": "path",
        "required": true,
        "description": "Full repository name. It may contain '/' (team/app), written as is or percent-encoded (team%2Fapp); a sub-resource follows '/-/'.",
        "schema": {"type": "string"},
        "example": "team/app"
      },
      "sort": {
        "name": "sort",
        "in": "query",
        "description": "Sort field, '-' prefix for descending. Ties sort by repositoryname ascending whatever the direction; unset times sort lowest. The window.* fields need the window parameter.",
        "schema": {
          "type": "string",
          "default": "repositoryname",
          "enum": ["repositoryname", "-repositoryname", "numpulls", "-numpulls", "numpushs", "-numpushs",
                   "numchecks", "-numchecks", "numindexpulls", "-numindexpulls", "numdeletes", "-numdeletes",
                   "firstpushed", "-firstpushed", "lastpushed", "-lastpushed", "firstpulled", "-firstpulled",
                   "lastpulled", "-lastpulled", "window.numpulls", "-window.numpulls", "window.numpushs",
                   "-window.numpushs", "window.numchecks", "-window.numchecks", "window.numindexpulls",
                   "-window.numindexpulls", "window.numdeletes", "-window.numdeletes"]
        },
        "example": "-window.numpulls"
      },
      "prefix": {
        "name": "prefix",
        "in": "query",
        "description": "Only repositories whose name starts with this text (no wildcards)",
        "schema": {"type": "string"},
        "example": "team/"
      },
      "actor": {
        "name": "actor",
        "in": "query",
        "description": "Only repositories that have a record of this actor",
        "schema": {"type": "string"}
      },
      "pulled_before": {
        "name": "pulled_before",
        "in": "query",
        "description": "The cleanup question: only repositories last pulled before this time, or never pulled. A day (YYYY-MM-DD, its UTC midnight) or an RFC 3339 time.",
        "schema": {"type": "string"},
        "example": "2026-01-01"
      },
      "pushed_after": {
        "name": "pushed_after",
        "in": "query",
        "description": "Only repositories last pushed after this time. A day (YYYY-MM-DD, its UTC midnight) or an RFC 3339 time.",
        "schema": {"type": "string"},
        "example": "2026-01-01T00:00:00Z"
      },
      "not_pulled_since": {
        "name": "not_pulled_since",
        "in": "query",
        "description": "Nd: only repositories not pulled today nor in the N - 1 days before (UTC), or never pulled. At most 3660d.",
        "schema": {"type": "string", "pattern": "^[0-9]+d$"},
        "example": "90d"
      },
      "window": {
        "name": "window",
        "in": "query",
        "description": "Nd: adds a window object to each repository, the counts of today and the N - 1 days before (UTC), and allows sort=window.*. At most 3660d.",
        "schema": {"type": "string", "pattern": "^[0-9]+d$"},
        "example": "30d"
      },
      "offset": {
        "name": "offset",
        "in": "query",
        "description": "Repositories to skip",
        "schema": {"type": "integer", "minimum": 0, "default": 0}
      },
      "limit": {
        "name": "limit",
        "in": "query",
        "description": "Most repositories to return",
        "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}
      },
      "format": {
        "name": "format",
        "in": "query",
        "description": "json, or csv (text/csv) for spreadsheets",
        "schema": {"type": "string", "enum": ["json", "csv"], "default": "json"}
      },
      "from": {
        "name": "from",
        "in": "query",
        "description": "First day, YYYY-MM-DD (UTC), inclusive; default 29 days before today. The range holds at most 3660 days.",
        "schema": {"type": "string", "format": "date"}
      },
      "to": {
        "name": "to",
        "in": "query",
        "description": "Last day, YYYY-MM-DD (UTC), inclusive; default today",
        "schema": {"type": "string", "format": "date"}
      }
    },
    "headers": {
      "WWW-Authenticate": {
        "description": "Bearer realm=\"drec\", Basic realm=\"drec\"",
        "schema": {"type": "string"}
      },
      "Allow": {"description": "The methods the route takes", "schema": {"type": "string"}},
      "Retry-After": {"description": "Seconds to wait before retrying", "schema": {"type": "integer"}}
    },
    "responses": {
      "BadRequest": {
        "description": "A parameter or the body is wrong; the message names it",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
      },
      "Unauthorized": {
        "description": "Credentials missing or wrong",
        "headers": {"WWW-Authenticate": {"$ref": "#/components/headers/WWW-Authenticate"}},
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
      },
      "NotFound": {
        "description": "Unknown repository or sub-resource",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
      },
      "MethodNotAllowed": {
        "description": "The route does not take this method",
        "headers": {"Allow": {"$ref": "#/components/headers/Allow"}},
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
      },
      "Unavailable": {
        "description": "The store is unreachable or the queue is full; retry later",
        "headers": {"Retry-After": {"$ref": "#/components/headers/Retry-After"}},
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
      }
    },
    "schemas": {
      "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {"error": {"type": "string", "description": "What was wrong"}}
      },
      "Time": {
        "type": "string",
        "format": "date-time",
        "nullable": true,
        "description": "RFC 3339 UTC with milliseconds; null until the first such event",
        "example": "2026-11-27T02:24:26.171Z"
      },
      "Day": {
        "type": "object",
        "description": "Counts of one UTC day",
        "required": ["day", "numpulls", "numpushs", "numchecks", "numindexpulls", "numdeletes"],
        "properties": {
          "day": {"type": "string", "format": "date"},
          "numpulls": {"type": "integer", "minimum": 0},
          "numpushs": {"type": "integer", "minimum": 0},
          "numchecks": {"type": "integer", "minimum": 0},
          "numindexpulls": {"type": "integer", "minimum": 0},
          "numdeletes": {"type": "integer", "minimum": 0}
        }
      },
      "Repository": {
        "type": "object",
        "required": ["repositoryname", "numpulls", "numpushs", "numchecks", "numindexpulls", "numdeletes",
                     "firstpushed", "lastpushed", "firstpulled", "lastpulled", "actors", "numstars", "tags"],
        "properties": {
          "repositoryname": {"type": "string"},
          "numpulls": {"type": "integer", "minimum": 0, "description": "GETs of image manifests (not indexes)"},
          "numpushs": {"type": "integer", "minimum": 0, "description": "Tagged manifest pushes"},
          "numchecks": {"type": "integer", "minimum": 0, "description": "HEADs of manifests"},
          "numindexpulls": {"type": "integer", "minimum": 0, "description": "GETs of indexes / manifest lists"},
          "numdeletes": {"type": "integer", "minimum": 0, "description": "Deletes of manifests by digest"},
          "firstpushed": {"$ref": "#/components/schemas/Time"},
          "lastpushed": {"$ref": "#/components/schemas/Time"},
          "firstpulled": {"$ref": "#/components/schemas/Time"},
          "lastpulled": {"$ref": "#/components/schemas/Time"},
          "actors": {"type": "array", "maxItems": 100, "items": {"type": "string"}, "description": "Named actors of counted pushes and pulls, first seen first"},
          "numstars": {"type": "integer"},
          "tags": {"type": "array", "items": {"type": "string"}, "description": "Live tags, sorted"}
        }
      },
      "Window": {
        "type": "object",
        "description": "Counts of the days [from, today]",
        "required": ["days", "from", "numpulls", "numpushs", "numchecks", "numindexpulls", "numdeletes"],
        "properties": {
          "days": {"type": "integer", "minimum": 1},
          "from": {"type": "string", "format": "date"},
          "numpulls": {"type": "integer", "minimum": 0},
          "numpushs": {"type": "integer", "minimum": 0},
          "numchecks": {"type": "integer", "minimum": 0},
          "numindexpulls": {"type": "integer", "minimum": 0},
          "numdeletes": {"type": "integer", "minimum": 0}
        }
      },
      "RepositoryListItem": {
        "type": "object",
        "description": "A repository as listed: tags only when given, window only with the window parameter",
        "required": ["repositoryname", "numpulls", "numpushs", "numchecks", "numindexpulls", "numdeletes",
                     "firstpushed", "lastpushed", "firstpulled", "lastpulled", "actors", "numstars"],
        "properties": {
          "repositoryname": {"type": "string"},
          "numpulls": {"type": "integer", "minimum": 0},
          "numpushs": {"type": "integer", "minimum": 0},
          "numchecks": {"type": "integer", "minimum": 0},
          "numindexpulls": {"type": "integer", "minimum": 0},
          "numdeletes": {"type": "integer", "minimum": 0},
          "firstpushed": {"$ref": "#/components/schemas/Time"},
          "lastpushed": {"$ref": "#/components/schemas/Time"},
          "firstpulled": {"$ref": "#/components/schemas/Time"},
          "lastpulled": {"$ref": "#/components/schemas/Time"},
          "actors": {"type": "array", "maxItems": 100, "items": {"type": "string"}},
          "numstars": {"type": "integer"},
          "tags": {"type": "array", "items": {"type": "string"}},
          "window": {"$ref": "#/components/schemas/Window"}
        }
      },
      "RepositoryList": {
        "type": "object",
        "required": ["repositories", "total", "offset", "limit"],
        "properties": {
          "repositories": {"type": "array", "items": {"$ref": "#/components/schemas/RepositoryListItem"}},
          "total": {"type": "integer", "minimum": 0, "description": "Repositories matching the filters, over all pages"},
          "offset": {"type": "integer", "minimum": 0},
          "limit": {"type": "integer", "minimum": 1, "maximum": 1000}
        }
      },
      "Tag": {
        "type": "object",
        "required": ["tag", "digest", "deleted", "numpulls", "numpushs", "numchecks", "numindexpulls", "numdeletes",
                     "firstpushed", "lastpushed", "firstpulled", "lastpulled"],
        "properties": {
          "tag": {"type": "string"},
          "digest": {"type": "string", "nullable": true, "description": "The digest the tag points at now; null when never learned"},
          "deleted": {"type": "boolean"},
          "numpulls": {"type": "integer", "minimum": 0},
          "numpushs": {"type": "integer", "minimum": 0},
          "numchecks": {"type": "integer", "minimum": 0},
          "numindexpulls": {"type": "integer", "minimum": 0},
          "numdeletes": {"type": "integer", "minimum": 0},
          "firstpushed": {"$ref": "#/components/schemas/Time"},
          "lastpushed": {"$ref": "#/components/schemas/Time"},
          "firstpulled": {"$ref": "#/components/schemas/Time"},
          "lastpulled": {"$ref": "#/components/schemas/Time"}
        }
      },
      "TagList": {
        "type": "object",
        "required": ["repository", "tags"],
        "properties": {
          "repository": {"type": "string"},
          "tags": {"type": "array", "items": {"$ref": "#/components/schemas/Tag"}}
        }
      },
      "Digest": {
        "type": "object",
        "required": ["digest", "mediaType", "size", "deleted", "numpulls", "numpushs", "numchecks", "numindexpulls",
                     "numdeletes", "firstpushed", "lastpushed", "firstpulled", "lastpulled"],
        "properties": {
          "digest": {"type": "string"},
          "mediaType": {"type": "string", "description": "Empty when only deletes were seen"},
          "size": {"type": "integer", "minimum": 0},
          "deleted": {"type": "boolean"},
          "numpulls": {"type": "integer", "minimum": 0},
          "numpushs": {"type": "integer", "minimum": 0, "description": "Every push of the digest, tagged or not"},
          "numchecks": {"type": "integer", "minimum": 0},
          "numindexpulls": {"type": "integer", "minimum": 0},
          "numdeletes": {"type": "integer", "minimum": 0},
          "firstpushed": {"$ref": "#/components/schemas/Time"},
          "lastpushed": {"$ref": "#/components/schemas/Time"},
          "firstpulled": {"$ref": "#/components/schemas/Time"},
          "lastpulled": {"$ref": "#/components/schemas/Time"}
        }
      },
      "DigestList": {
        "type": "object",
        "required": ["repository", "digests"],
        "properties": {
          "repository": {"type": "string"},
          "digests": {"type": "array", "items": {"$ref": "#/components/schemas/Digest"}}
        }
      },
      "Actor": {
        "type": "object",
        "required": ["actor", "firstseen", "lastseen", "numpulls", "numpushs", "numchecks", "numindexpulls",
                     "numdeletes", "firstpushed", "lastpushed", "firstpulled", "lastpulled"],
        "properties": {
          "actor": {"type": "string"},
          "firstseen": {"$ref": "#/components/schemas/Time"},
          "lastseen": {"$ref": "#/components/schemas/Time"},
          "numpulls": {"type": "integer", "minimum": 0},
          "numpushs": {"type": "integer", "minimum": 0},
          "numchecks": {"type": "integer", "minimum": 0},
          "numindexpulls": {"type": "integer", "minimum": 0},
          "numdeletes": {"type": "integer", "minimum": 0},
          "firstpushed": {"$ref": "#/components/schemas/Time"},
          "lastpushed": {"$ref": "#/components/schemas/Time"},
          "firstpulled": {"$ref": "#/components/schemas/Time"},
          "lastpulled": {"$ref": "#/components/schemas/Time"}
        }
      },
      "ActorList": {
        "type": "object",
        "required": ["repository", "actors"],
        "properties": {
          "repository": {"type": "string"},
          "actors": {"type": "array", "items": {"$ref": "#/components/schemas/Actor"}}
        }
      },
      "DailyList": {
        "type": "object",
        "required": ["repository", "days"],
        "properties": {
          "repository": {"type": "string"},
          "days": {"type": "array", "items": {"$ref": "#/components/schemas/Day"}}
        }
      },
      "SummaryTotals": {
        "type": "object",
        "description": "Counters summed over every repository; first* the earliest, last* the latest",
        "required": ["repositories", "numpulls", "numpushs", "numchecks", "numindexpulls", "numdeletes",
                     "firstpushed", "lastpushed", "firstpulled", "lastpulled"],
        "properties": {
          "repositories": {"type": "integer", "minimum": 0},
          "numpulls": {"type": "integer", "minimum": 0},
          "numpushs": {"type": "integer", "minimum": 0},
          "numchecks": {"type": "integer", "minimum": 0},
          "numindexpulls": {"type": "integer", "minimum": 0},
          "numdeletes": {"type": "integer", "minimum": 0},
          "firstpushed": {"$ref": "#/components/schemas/Time"},
          "lastpushed": {"$ref": "#/components/schemas/Time"},
          "firstpulled": {"$ref": "#/components/schemas/Time"},
          "lastpulled": {"$ref": "#/components/schemas/Time"}
        }
      },
      "Summary": {
        "type": "object",
        "required": ["from", "to", "totals", "days"],
        "properties": {
          "from": {"type": "string", "format": "date"},
          "to": {"type": "string", "format": "date"},
          "totals": {"$ref": "#/components/schemas/SummaryTotals"},
          "days": {"type": "array", "items": {"$ref": "#/components/schemas/Day"}}
        }
      },
      "IngestResult": {
        "type": "object",
        "required": ["events", "ignored"],
        "properties": {
          "events": {"type": "integer", "minimum": 0, "description": "Events in the envelope"},
          "ignored": {"type": "integer", "minimum": 0, "description": "Events acknowledged without changing statistics"}
        }
      },
      "Envelope": {
        "type": "object",
        "required": ["events"],
        "properties": {"events": {"type": "array", "items": {"$ref": "#/components/schemas/Event"}}}
      },
      "Event": {
        "type": "object",
        "description": "A registry notification event. Events missing what they need are ignored, never refused.",
        "properties": {
          "id": {"type": "string", "description": "The same on every retry; applied at most once"},
          "timestamp": {"type": "string", "format": "date-time"},
          "action": {"type": "string", "enum": ["push", "pull", "mount", "delete"]},
          "target": {
            "type": "object",
            "properties": {
              "mediaType": {"type": "string"},
              "size": {"type": "integer"},
              "length": {"type": "integer"},
              "digest": {"type": "string"},
              "repository": {"type": "string"},
              "fromRepository": {"type": "string"},
              "url": {"type": "string"},
              "tag": {"type": "string"},
              "references": {
                "type": "array",
                "items": {"type": "object", "properties": {"mediaType": {"type": "string"}, "size": {"type": "integer"}, "digest": {"type": "string"}}}
              }
            }
          },
          "request": {
            "type": "object",
            "properties": {
              "id": {"type": "string"},
              "addr": {"type": "string"},
              "host": {"type": "string"},
              "method": {"type": "string"},
              "useragent": {"type": "string"}
            }
          },
          "actor": {"type": "object", "properties": {"name": {"type": "string"}}},
          "source": {"type": "object", "properties": {"addr": {"type": "string"}, "instanceID": {"type": "string"}}}
        }
      }
    }
  }
})json";

}  // namespace

std::string_view OpenApiDocument() { return kDocument; }

}  // namespace drec
