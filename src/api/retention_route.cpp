#include "api/retention_route.h"

#include "api/responses.h"
#include "retention/gather.h"
#include "retention/plan_format.h"

namespace drec {

HttpResponse RetentionPlanRoute(const RegistrySet& registries, const std::string& policy_file,
                                std::chrono::steady_clock::time_point deadline,
                                const RouteRequest& request) {
  if (policy_file.empty()) {
    return ErrorResponse(404, "no retention policy is configured: set retention.policy_file");
  }
  UnixMillis at = NowMillis();
  if (auto param = request.params.find("at"); param != request.params.end()) {
    const auto parsed = ParseRfc3339((*param).value);
    if (!parsed) return ErrorResponse(400, "at: not an RFC 3339 time");
    at = *parsed;
  }
  auto policy = retention::LoadPolicy(policy_file);
  if (!policy.ok()) return ErrorResponse(500, policy.status().message());
  StoreReader* reader = registries.Reader(policy->registry.name);
  if (reader == nullptr) {
    return ErrorResponse(500, policy_file + ": registry.name: \"" + policy->registry.name +
                                  "\" is none of drec's registries");
  }
  auto client = retention::RegistryClientFor(policy->registry);
  if (!client.ok()) return ErrorResponse(500, policy_file + ": " + client.status().message());
  const std::unique_ptr<RegistryClient> registry = std::move(client).value();
  auto views = retention::GatherViews(*policy, *reader, registry.get(), deadline);
  if (!views.ok()) {
    return ErrorResponse(
        views.status().code() == Status::Code::kUnavailable && !registry ? 503 : 502,
        views.status().message());
  }
  retention::Plan plan = retention::MakePlan(*policy, *views, at);
  plan.checked_against_registry = registry != nullptr;
  return JsonResponse(200, retention::PlanJson(plan));
}

}  // namespace drec
