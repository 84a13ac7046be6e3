// The read side of the HTTP API: one handler per route of the route table (api/routes.cpp),
// each asking the store one question and rendering JSON (or CSV). Knows nothing about ingest,
// authentication or routing.
#pragma once

#include "api/route_request.h"
#include "http/handler.h"
#include "store/registries/registry_set.h"
#include "store/store.h"

namespace drec {

// GET /api/v1/repositories: the list, with sort, filters, window and paging (query_params.h).
HttpResponse ListRepositoriesRoute(StoreReader& store, const RouteRequest& request);
// GET /api/v1/registries: every registry drec serves, with its all-time totals.
HttpResponse RegistriesRoute(const RegistrySet& registries, const RouteRequest& request);
// GET /api/v1/summary: totals and per-day totals.
HttpResponse SummaryRoute(StoreReader& store, const RouteRequest& request);
// GET /api/v1/repositories/{name} and its sub-resources; 404 when the repository is unknown.
HttpResponse RepositoryRoute(StoreReader& store, const RouteRequest& request);
HttpResponse TagsRoute(StoreReader& store, const RouteRequest& request);
HttpResponse DigestsRoute(StoreReader& store, const RouteRequest& request);
HttpResponse ActorsRoute(StoreReader& store, const RouteRequest& request);
// `?class=` limits the days to one traffic class.
HttpResponse DailyRoute(StoreReader& store, const RouteRequest& request);
// GET /api/v1/repositories/{name}/-/classes: traffic classes all time, of a tag, or per day.
HttpResponse ClassesRoute(StoreReader& store, const RouteRequest& request);

}  // namespace drec
