#include "api/routes.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <map>
#include <set>

#include "api/openapi.h"
#include "api/router.h"

namespace drec {
namespace {

// A store that is never asked anything: the route table only binds to it.
class UnusedStore : public Store {
 public:
  Status Apply(const Batch&, ApplyOutcome*) override { return Unused(); }
  Status Ping() override { return Unused(); }
  Status PruneEventIds(UnixMillis) override { return Unused(); }
  Result<RepositoryPage> ListRepositories(const RepositoryQuery&) override { return Unused(); }
  Result<Summary> Summarize(const std::string&, const std::string&) override { return Unused(); }
  Result<std::optional<RepositoryRecord>> GetRepository(const std::string&) override {
    return Unused();
  }
  Result<std::vector<TagRecord>> ListTags(const std::string&) override { return Unused(); }
  Result<std::vector<DigestRecord>> ListDigests(const std::string&) override { return Unused(); }
  Result<std::vector<ActorRecord>> ListActors(const std::string&) override { return Unused(); }
  Result<std::vector<DayRecord>> ListDays(const std::string&, const std::string&,
                                          const std::string&) override {
    return Unused();
  }
  Result<std::vector<ClassRecord>> ListClasses(const std::string&, const ClassQuery&) override {
    return Unused();
  }

 private:
  static Status Unused() { return Status::Internal("not used by the route table test"); }
};

class RoutesTest : public ::testing::Test {
 protected:
  RoutesTest()
      : auth_({"token"}, {}),
        committer_(store_, metrics_, {}),
        ingest_(DeletePolicy::kKeep, classifier_, committer_, metrics_),
        registries_({{"default", &store_}}),
        readiness_([this] { return registries_.Ping(); }, [this] { return committer_.health(); },
                   metrics_, {}),
        routes_(BuildRoutes({.ingest_route = "/events",
                             .auth = auth_,
                             .ingest = ingest_,
                             .registries = registries_,
                             .metrics = metrics_,
                             .readiness = readiness_,
                             .retention_policy_file = {},
                             .retention_registry_budget = {}})) {}
  ~RoutesTest() override { committer_.Stop(); }

  UnusedStore store_;
  Metrics metrics_;
  const Classifier classifier_ = DefaultClassifier();
  Authenticator auth_;
  Committer committer_;
  IngestEndpoint ingest_;
  RegistrySet registries_;
  Readiness readiness_;
  std::vector<Route> routes_;
};

// The served document's paths, each with its operations and whether they need credentials.
struct Operation {
  std::set<std::string> methods;
  bool public_access = false;
};

std::map<std::string, Operation> DocumentedOperations() {
  const auto doc = boost::json::parse(OpenApiDocument()).as_object();
  std::map<std::string, Operation> operations;
  for (const auto& [path, item] : doc.at("paths").as_object()) {
    Operation& op = operations[std::string(path)];
    for (const auto& [method, body] : item.as_object()) {
      if (!body.is_object()) continue;
      op.methods.insert(std::string(method));
      const auto* security = body.as_object().if_contains("security");
      op.public_access = security != nullptr && security->as_array().empty();
    }
  }
  return operations;
}

TEST_F(RoutesTest, TheRouteTableAndTheOpenApiPathsAgree) {
  auto documented = DocumentedOperations();
  ASSERT_FALSE(documented.empty());
  std::set<std::string> routed;
  for (const Route& route : routes_) {
    if (!route.documented) continue;
    routed.insert(route.path);
    auto it = documented.find(route.path);
    ASSERT_NE(it, documented.end()) << route.path << " is routed but not in docs/openapi.json";
    std::set<std::string> methods;
    for (auto verb : route.methods) {
      std::string name(boost::beast::http::to_string(verb));
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      methods.insert(name);
    }
    EXPECT_EQ(methods, it->second.methods) << route.path;
    EXPECT_EQ(route.access == Access::kPublic, it->second.public_access) << route.path;
  }
  for (const auto& [path, op] : documented) {
    EXPECT_TRUE(routed.contains(path)) << path << " is in docs/openapi.json but not routed";
  }
}

TEST_F(RoutesTest, QueriesThatWaitForTheStoreRunOnTheWorkers) {
  for (const Route& route : routes_) {
    if (route.path.starts_with("/api/v1/repositories") || route.path == "/api/v1/summary") {
      EXPECT_EQ(route.runs, Runs::kWorkers) << route.path;
    }
    // /readyz must answer even when every worker is stuck in the store: it runs inline and
    // never waits (pipeline/readiness.h).
    if (route.path == "/readyz") {
      EXPECT_EQ(route.runs, Runs::kInline);
    }
  }
}

TEST(MatchPathTest, NameSpansSegmentsButNeverASubResource) {
  EXPECT_EQ(MatchPath("/api/v1/repositories/{name}", "/api/v1/repositories/team/app"), "team/app");
  EXPECT_EQ(MatchPath("/api/v1/repositories/{name}/-/tags", "/api/v1/repositories/a/b/-/tags"),
            "a/b");
  EXPECT_FALSE(MatchPath("/api/v1/repositories/{name}", "/api/v1/repositories/a/-/tags"));
  EXPECT_FALSE(MatchPath("/api/v1/repositories/{name}", "/api/v1/repositories/a/-"));
  EXPECT_FALSE(MatchPath("/api/v1/repositories/{name}", "/api/v1/repositories/"));
  EXPECT_FALSE(MatchPath("/ui/{file}", "/ui/a/b.js"));
  EXPECT_EQ(MatchPath("/ui/{file}", "/ui/app.js"), "app.js");
  EXPECT_EQ(MatchPath("/healthz", "/healthz"), "");
  EXPECT_FALSE(MatchPath("/healthz", "/healthz2"));
}

}  // namespace
}  // namespace drec
