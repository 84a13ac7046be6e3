// The registry log reader on logs captured from the real registries
// (tests/data/registry-logs, made by scripts/capture-registry-logs.sh): Debian's 2.8 at debug level
// and 3.x at info, each with the text and the JSON formatter, while alice pushed team/app:v1,
// pulled it by tag and by digest, checked it with HEAD and deleted it.
#include "backfill/registry_log.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "../example_files.h"
#include "semantics/semantics.h"
#include "semantics/traffic_class.h"

namespace drec::backfill {
namespace {

constexpr std::string_view kOciManifest = "application/vnd.oci.image.manifest.v1+json";

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::vector<Event> ReadLog(const std::string& name, LogFormat format = LogFormat::kAuto) {
  LogReader reader(format);
  std::vector<Event> events;
  for (const std::string& line : Lines(testing::ReadExample(name, "registry-logs"))) {
    if (auto event = reader.Feed(line)) events.push_back(std::move(*event));
  }
  return events;
}

class CapturedLogTest : public ::testing::TestWithParam<const char*> {};

// Every log holds the same seven manifest requests, in this order.
TEST_P(CapturedLogTest, GivesEveryCompletedManifestRequestInOrder) {
  const std::vector<Event> events = ReadLog(GetParam());
  ASSERT_EQ(events.size(), 7u);
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"push", "PUT"},  {"pull", "GET"}, {"pull", "GET"},     {"pull", "GET"},
      {"pull", "HEAD"}, {"pull", "GET"}, {"delete", "DELETE"}};
  for (std::size_t i = 0; i < events.size(); ++i) {
    const Event& event = events[i];
    SCOPED_TRACE(i);
    EXPECT_EQ(event.action, expected[i].first);
    EXPECT_EQ(event.method, expected[i].second);
    EXPECT_EQ(event.repository, "team/app");
    EXPECT_TRUE(event.id.starts_with(kEventIdPrefix)) << event.id;
    EXPECT_GT(event.id.size(), kEventIdPrefix.size());
    EXPECT_TRUE(event.timestamp.has_value());
    EXPECT_EQ(event.actor, "alice");
    EXPECT_TRUE(event.client_addr.starts_with("127.0.0.1:")) << event.client_addr;
    if (event.action != "delete") {
      EXPECT_EQ(event.media_type, kOciManifest);
    }
  }
  EXPECT_TRUE(events[0].user_agent.starts_with("skopeo/"));
  EXPECT_TRUE(events[4].user_agent.starts_with("curl/"));
  // By tag, by digest: the reference decides.
  EXPECT_EQ(events[0].tag, "v1");
  EXPECT_TRUE(events[3].tag.empty());
  EXPECT_TRUE(events[3].digest.starts_with("sha256:"));
  EXPECT_EQ(events[6].digest, events[3].digest);
  EXPECT_GT(events[1].size, 0);
  // Ids and times are the log's own: distinct, and in the log's order.
  for (std::size_t i = 1; i < events.size(); ++i) {
    EXPECT_NE(events[i].id, events[i - 1].id);
    EXPECT_GE(*events[i].timestamp, *events[i - 1].timestamp);
  }
}

INSTANTIATE_TEST_SUITE_P(Registries, CapturedLogTest,
                         ::testing::Values("registry-2.8.txt", "registry-2.8.json",
                                           "registry-3.1.txt", "registry-3.1.json"),
                         [](const auto& info) {
                           std::string name = info.param;
                           for (char& c : name) {
                             if (c == '-' || c == '.') c = '_';
                           }
                           return name;
                         });

// Registry 2.8 at debug level traces the storage paths that name the digest: every request by
// tag gets it, so every event counts.
TEST(RegistryLogTest, Registry28DebugTracesResolveEveryTag) {
  for (const char* name : {"registry-2.8.txt", "registry-2.8.json"}) {
    SCOPED_TRACE(name);
    const std::vector<Event> events = ReadLog(name);
    ASSERT_EQ(events.size(), 7u);
    for (const Event& event : events) EXPECT_EQ(event.digest, events[3].digest);
    const Interpretation interpretation =
        Interpret(events, DeletePolicy::kKeep, DefaultClassifier());
    EXPECT_EQ(interpretation.effects.size(), 7u);
    EXPECT_TRUE(interpretation.ignored.empty());
  }
}

// Registry 3.x logs no digest of a request by tag at any level: those events stay without one
// (the semantics ignore them as missing_digest unless the store knows the tag).
TEST(RegistryLogTest, Registry3LeavesTagRequestsWithoutDigest) {
  for (const char* name : {"registry-3.1.txt", "registry-3.1.json"}) {
    SCOPED_TRACE(name);
    const std::vector<Event> events = ReadLog(name);
    ASSERT_EQ(events.size(), 7u);
    for (int i : {0, 1, 2, 4, 5}) EXPECT_TRUE(events[i].digest.empty()) << i;
    const Interpretation interpretation =
        Interpret(events, DeletePolicy::kKeep, DefaultClassifier());
    EXPECT_EQ(interpretation.effects.size(), 2u);  // the GET by digest and the DELETE
    EXPECT_EQ(interpretation.ignored, std::vector<IgnoreReason>(5, IgnoreReason::kMissingDigest));
  }
}

// Text and JSON name the same fields the same way.
TEST(RegistryLogTest, TextAndJsonGiveTheSameFields) {
  auto completed = [](const std::string& name) {
    for (const std::string& line : Lines(testing::ReadExample(name, "registry-logs"))) {
      if (line.find("response completed") != std::string::npos) return line;
    }
    return std::string();
  };
  const std::string text = completed("registry-3.1.txt");
  const std::string json = completed("registry-3.1.json");
  const auto a = ParseLogLine(text, LogFormat::kText);
  const auto b = ParseLogLine(json, LogFormat::kJson);
  ASSERT_TRUE(a && b);
  for (const char* key : {"msg", "level", "http.request.method", "http.request.uri",
                          "http.response.status", "auth.user.name", "vars.name"}) {
    EXPECT_EQ(a->at(key), b->at(key)) << key;
  }
  EXPECT_EQ(a->at("msg"), "response completed");
  // The auto format tells them apart by the first character.
  EXPECT_EQ(ParseLogLine(json, LogFormat::kAuto), b);
  EXPECT_EQ(ParseLogLine(text, LogFormat::kAuto), a);
}

TEST(RegistryLogTest, ReadsQuotedTextValues) {
  const auto fields = ParseLogLine(
      R"(time="2026-12-02T08:05:15.283Z" level=info msg="say \"hi\"\\ there" a=b empty="")",
      LogFormat::kText);
  ASSERT_TRUE(fields);
  EXPECT_EQ(fields->at("msg"), R"(say "hi"\ there)");
  EXPECT_EQ(fields->at("a"), "b");
  EXPECT_EQ(fields->at("empty"), "");
}

TEST(RegistryLogTest, IgnoresLinesThatAreNotStructured) {
  for (std::string_view line :
       {R"(127.0.0.1 - - [02/Dec/2026:08:05:15 +0000] "GET /v2/ HTTP/1.1" 200 2 "" "curl/7.88.1")",
        "panic: runtime error", "", "   ", R"({"msg":"no time"})", "{not json",
        R"(time="2026-12-02T08:05:15Z" msg="unterminated)"}) {
    EXPECT_FALSE(ParseLogLine(line, LogFormat::kAuto)) << line;
  }
}

LogFields Completed(std::string method, std::string uri, std::string status) {
  return {{"time", "2026-12-02T08:05:15.857727703Z"},
          {"msg", "response completed"},
          {"http.request.id", "71d16479-ca32-46d9-bb5b-9db30a1d03bc"},
          {"http.request.method", std::move(method)},
          {"http.request.uri", std::move(uri)},
          {"http.response.status", std::move(status)},
          {"http.response.contenttype", std::string(kOciManifest)}};
}

TEST(RegistryLogTest, OnlySuccessfulManifestRequestsCount) {
  EXPECT_TRUE(CompletedManifestRequest(Completed("GET", "/v2/a/b/manifests/v1", "200")));
  EXPECT_TRUE(CompletedManifestRequest(Completed("DELETE", "/v2/a/manifests/sha256:ab", "202")));
  EXPECT_FALSE(CompletedManifestRequest(Completed("GET", "/v2/a/manifests/v1", "404")));
  EXPECT_FALSE(CompletedManifestRequest(Completed("GET", "/v2/a/manifests/v1", "304")));
  EXPECT_FALSE(CompletedManifestRequest(Completed("POST", "/v2/a/manifests/v1", "201")));
  EXPECT_FALSE(CompletedManifestRequest(Completed("GET", "/v2/a/blobs/sha256:ab", "200")));
  EXPECT_FALSE(CompletedManifestRequest(Completed("GET", "/v2/a/tags/list", "200")));
  EXPECT_FALSE(CompletedManifestRequest(Completed("GET", "/v2/", "200")));
  LogFields other = Completed("GET", "/v2/a/manifests/v1", "200");
  other["msg"] = "response completed with error";
  EXPECT_FALSE(CompletedManifestRequest(other));

  const auto request = CompletedManifestRequest(Completed("GET", "/v2/a/manifests/v1?x=1", "200"));
  ASSERT_TRUE(request);
  EXPECT_EQ(request->event.tag, "v1");
  EXPECT_EQ(request->event.id, "backfill:71d16479-ca32-46d9-bb5b-9db30a1d03bc");
  EXPECT_EQ(request->event.timestamp, ParseRfc3339("2026-12-02T08:05:15.857Z"));
  const auto escaped =
      CompletedManifestRequest(Completed("GET", "/v2/a/manifests/sha256%3A29724e07", "200"));
  ASSERT_TRUE(escaped);
  EXPECT_EQ(escaped->event.digest, "sha256:29724e07");
}

// A tag's digest learned from one line resolves the later requests of the tag that the log does
// not resolve itself, until a push the log cannot resolve or a delete makes it stale.
TEST(RegistryLogTest, RemembersWhatTheLogSaidOfATag) {
  const std::vector<std::string> lines =
      Lines(testing::ReadExample("registry-2.8.txt", "registry-logs"));
  LogReader reader(LogFormat::kText);
  std::string put;
  for (const std::string& line : lines) {
    if (auto event = reader.Feed(line); event && event->method == "PUT") {
      put = event->digest;
      break;
    }
  }
  ASSERT_FALSE(put.empty());
  // A GET of the tag without debug lines (as at info level).
  auto get = [&](std::string id) {
    LogFields fields = Completed("GET", "/v2/team/app/manifests/v1", "200");
    fields["http.request.id"] = std::move(id);
    std::string line;
    for (const auto& [key, value] : fields) line += fmt::format("{}=\"{}\" ", key, value);
    return reader.Feed(line);
  };
  auto first = get("g1");
  ASSERT_TRUE(first);
  EXPECT_EQ(first->digest, put);
  // A DELETE of that digest untags it.
  auto deleted = reader.Feed(
      "time=\"2026-12-02T08:06:00Z\" msg=\"response completed\" "
      "http.request.id=d1 http.request.method=DELETE "
      "http.request.uri=/v2/team/app/manifests/" +
      put + " http.response.status=202");
  ASSERT_TRUE(deleted);
  auto after = get("g2");
  ASSERT_TRUE(after);
  EXPECT_TRUE(after->digest.empty());
}

// Hints of requests that never complete are dropped, oldest first, beyond the bound.
TEST(RegistryLogTest, BoundsPendingHints) {
  LogReader reader(LogFormat::kText);
  auto hint = [&](const std::string& id) {
    reader.Feed(
        "time=\"2026-12-02T08:06:00Z\" msg=\"filesystem.GetContent(\\\"/docker/registry/"
        "v2/repositories/a/_manifests/revisions/sha256/" +
        std::string(64, 'a') + "/link\\\")\" http.request.id=" + id);
  };
  hint("0");
  for (std::size_t i = 1; i <= LogReader::kMaxPendingRequests; ++i) {
    hint(fmt::format("x{}", i));
  }
  auto completed = [&](const std::string& id) {
    return reader.Feed(
        "time=\"2026-12-02T08:06:01Z\" msg=\"response completed\" http.request.id=" + id +
        " http.request.method=GET http.request.uri=/v2/a/manifests/t "
        "http.response.status=200");
  };
  auto dropped = completed("0");
  ASSERT_TRUE(dropped);
  EXPECT_TRUE(dropped->digest.empty());
  auto kept = completed("x9");
  ASSERT_TRUE(kept);
  EXPECT_EQ(kept->digest, "sha256:" + std::string(64, 'a'));
  EXPECT_EQ(reader.first_time(), ParseRfc3339("2026-12-02T08:06:00Z"));
}

}  // namespace
}  // namespace drec::backfill
