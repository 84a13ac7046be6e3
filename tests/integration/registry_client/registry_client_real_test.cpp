// The registry client against real Debian docker-registry 2.8 processes. These cases need the
// registries, images and token server that tests/integration/registry_client/
// registry_client_test.py sets up and describes in the JSON file named by
// DREC_TEST_REGISTRY_FIXTURE; run without it (plain ctest discovery), they skip.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "registry_client/registry_client.h"

namespace drec {
namespace {

using ::testing::HasSubstr;

// "name" as error messages quote it (built by appending: GCC 12 warns falsely on a + b + c).
std::string Quoted(const std::string& name) {
  std::string quoted(1, '"');
  quoted.append(name).push_back('"');
  return quoted;
}

class RegistryClientRealTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* path = std::getenv("DREC_TEST_REGISTRY_FIXTURE");
    if (path == nullptr) {
      GTEST_SKIP() << "needs the registries of tests/integration/registry_client/"
                      "registry_client_test.py (ctest: integration_registry_client)";
    }
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    boost::system::error_code ec;
    fixture_ = boost::json::parse(text.str(), ec).as_object();
    ASSERT_FALSE(ec) << path;
  }

  std::string Get(const char* key) const { return std::string(fixture_.at(key).as_string()); }

  // A client of the TLS + htpasswd registry, as `drec retention` configures it.
  std::unique_ptr<RegistryClient> TlsClient(std::size_t page_size = 0,
                                            const std::string& password = "") {
    RegistryEndpoint endpoint;
    endpoint.url = Get("tls_url");
    endpoint.username = Get("user");
    endpoint.password = password.empty() ? Get("password") : password;
    endpoint.ca_file = Get("ca_file");
    endpoint.tags_page_size = page_size;
    return MakeClient(endpoint);
  }

  std::unique_ptr<RegistryClient> TokenClient(const std::string& password = "") {
    RegistryEndpoint endpoint;
    endpoint.url = Get("token_url");
    endpoint.username = Get("token_user");
    endpoint.password = password.empty() ? Get("token_password") : password;
    return MakeClient(endpoint);
  }

  static std::unique_ptr<RegistryClient> MakeClient(const RegistryEndpoint& endpoint) {
    auto client = RegistryClient::Make(endpoint);
    EXPECT_TRUE(client.ok()) << client.status().message();
    return client.ok() ? std::move(client).value() : nullptr;
  }

  static std::vector<std::string> Sorted(std::vector<std::string> v) {
    std::sort(v.begin(), v.end());
    return v;
  }

  boost::json::object fixture_;
};

TEST_F(RegistryClientRealTest, ListTagsReadsEveryTagWhateverThePageSize) {
  // 2.8 ignores `n` and answers one page.
  const std::vector<std::string> all = {"a1", "a2", "b1", "multi"};
  for (std::size_t page_size : {0, 1, 2, 3, 100}) {
    auto tags = TlsClient(page_size)->ListTags("team/app");
    ASSERT_TRUE(tags.ok()) << tags.status().message();
    EXPECT_EQ(Sorted(*tags), all) << "page size " << page_size;
  }
}

TEST_F(RegistryClientRealTest, ListTagsFollowsTheRegistrysPages) {
  if (Get("paging_url").empty()) GTEST_SKIP() << "no registry 3.x (scripts/build-registry3.sh)";
  const std::vector<std::string> all = {"a1", "a2", "b1", "multi"};
  for (std::size_t page_size : {0, 1, 2, 3, 4, 100}) {
    RegistryEndpoint endpoint;
    endpoint.url = Get("paging_url");
    endpoint.tags_page_size = page_size;
    auto tags = MakeClient(endpoint)->ListTags("team/app");
    ASSERT_TRUE(tags.ok()) << tags.status().message();
    // The registry pages in lexical order: the pages joined are the whole list, in order.
    EXPECT_EQ(*tags, all) << "page size " << page_size;
  }
}

TEST_F(RegistryClientRealTest, AnUnknownRepositoryHasNoTags) {
  auto tags = TlsClient(2)->ListTags("team/never-pushed");
  ASSERT_TRUE(tags.ok()) << tags.status().message();
  EXPECT_TRUE(tags->empty());
}

TEST_F(RegistryClientRealTest, HeadManifestReportsTheServedDigest) {
  auto client = TlsClient();
  for (const auto& [tag, key] : std::vector<std::pair<std::string, const char*>>{
           {"a1", "amd64"}, {"a2", "amd64"}, {"b1", "arm64"}, {"multi", "multi"}}) {
    auto head = client->HeadManifest("team/app", tag);
    ASSERT_TRUE(head.ok()) << head.status().message();
    ASSERT_TRUE(head->has_value()) << tag;
    EXPECT_EQ((*head)->digest, Get(key)) << tag;
  }
  auto index = client->HeadManifest("team/app", "multi");
  EXPECT_EQ((*index)->media_type, "application/vnd.oci.image.index.v1+json");
  auto by_digest = client->HeadManifest("team/app", Get("arm64"));
  ASSERT_TRUE(by_digest.ok() && by_digest->has_value());
  EXPECT_EQ((*by_digest)->media_type, "application/vnd.oci.image.manifest.v1+json");

  auto missing = client->HeadManifest("team/app", "no-such-tag");
  ASSERT_TRUE(missing.ok()) << missing.status().message();
  EXPECT_FALSE(missing->has_value());
}

TEST_F(RegistryClientRealTest, GetManifestListsAnIndexsChildren) {
  auto client = TlsClient();
  auto index = client->GetManifest("team/app", "multi");
  ASSERT_TRUE(index.ok()) << index.status().message();
  EXPECT_EQ(index->digest, Get("multi"));
  EXPECT_EQ(index->media_type, "application/vnd.oci.image.index.v1+json");
  std::vector<std::string> children;
  for (const auto& c : fixture_.at("multi_children").as_array()) {
    children.emplace_back(c.as_string());
  }
  EXPECT_EQ(index->children, children);

  auto image = client->GetManifest("team/app", "a1");
  ASSERT_TRUE(image.ok()) << image.status().message();
  EXPECT_EQ(image->digest, Get("amd64"));
  EXPECT_TRUE(image->children.empty());
  EXPECT_THAT(image->body, HasSubstr("\"layers\""));

  auto missing = client->GetManifest("team/app", "no-such-tag");
  EXPECT_EQ(missing.status().code(), Status::Code::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("HTTP 404"));
}

TEST_F(RegistryClientRealTest, DeleteManifestRemovesExactlyTheTagsOfTheDigest) {
  auto client = TlsClient(2);
  auto before = client->ListTags("team/gone");
  ASSERT_TRUE(before.ok()) << before.status().message();
  ASSERT_EQ(Sorted(*before), (std::vector<std::string>{"x1", "x2", "y1"}));

  Status deleted = client->DeleteManifest("team/gone", Get("amd64"));
  ASSERT_TRUE(deleted.ok()) << deleted.message();

  for (const char* tag : {"x1", "x2"}) {
    auto head = client->HeadManifest("team/gone", tag);
    ASSERT_TRUE(head.ok()) << head.status().message();
    EXPECT_FALSE(head->has_value()) << tag;
  }
  auto after = client->ListTags("team/gone");
  ASSERT_TRUE(after.ok()) << after.status().message();
  EXPECT_EQ(*after, std::vector<std::string>{"y1"});
  // The same digest stays in team/app: deletes are per repository.
  auto elsewhere = client->HeadManifest("team/app", "a1");
  ASSERT_TRUE(elsewhere.ok() && elsewhere->has_value());

  Status again = client->DeleteManifest("team/gone", Get("amd64"));
  EXPECT_EQ(again.code(), Status::Code::kNotFound) << again.message();
  EXPECT_THAT(again.message(), HasSubstr("DELETE /v2/team/gone/manifests/" + Get("amd64")));
}

TEST_F(RegistryClientRealTest, AWrongPasswordIsPermissionDeniedNamingTheUser) {
  auto tags = TlsClient(0, "wrong-password")->ListTags("team/app");
  ASSERT_EQ(tags.status().code(), Status::Code::kPermissionDenied) << tags.status().message();
  EXPECT_THAT(tags.status().message(), HasSubstr(Get("tls_url")));
  EXPECT_THAT(tags.status().message(), HasSubstr("GET /v2/team/app/tags/list"));
  EXPECT_THAT(tags.status().message(), HasSubstr("HTTP 401"));
  EXPECT_THAT(tags.status().message(), HasSubstr(Quoted(Get("user"))));
  std::cout << tags.status().message() << "\n";  // docs/retention.md quotes it
}

TEST_F(RegistryClientRealTest, TlsIsVerifiedAgainstTheConfiguredTrust) {
  RegistryEndpoint endpoint;
  endpoint.url = Get("tls_url");
  endpoint.username = Get("user");
  endpoint.password = Get("password");
  // Without ca_file the system trust store does not know the self-signed certificate.
  auto untrusted = MakeClient(endpoint)->ListTags("team/app");
  ASSERT_EQ(untrusted.status().code(), Status::Code::kInternal) << untrusted.status().message();
  EXPECT_THAT(untrusted.status().message(), HasSubstr("TLS"));
  EXPECT_THAT(untrusted.status().message(), HasSubstr("self-signed"));
  // The certificate names 127.0.0.1, not localhost: hostname verification refuses it.
  endpoint.ca_file = Get("ca_file");
  std::string other_name = Get("tls_url");
  other_name.replace(other_name.find("127.0.0.1"), 9, "localhost");
  endpoint.url = other_name;
  auto wrong_host = MakeClient(endpoint)->ListTags("team/app");
  ASSERT_EQ(wrong_host.status().code(), Status::Code::kInternal) << wrong_host.status().message();
  EXPECT_THAT(wrong_host.status().message(), HasSubstr("hostname mismatch"));
  // insecure_skip_verify accepts either.
  endpoint.ca_file.clear();
  endpoint.insecure_skip_verify = true;
  auto skipped = MakeClient(endpoint)->ListTags("team/app");
  ASSERT_TRUE(skipped.ok()) << skipped.status().message();
}

TEST_F(RegistryClientRealTest, DeletesDisabledInTheRegistrySaySo) {
  RegistryEndpoint endpoint;
  endpoint.url = Get("nodelete_url");
  Status s = MakeClient(endpoint)->DeleteManifest("team/app", Get("amd64"));
  EXPECT_EQ(s.code(), Status::Code::kInternal);
  EXPECT_THAT(s.message(), HasSubstr(Get("nodelete_url")));
  EXPECT_THAT(s.message(), HasSubstr("HTTP 405"));
  EXPECT_THAT(s.message(), HasSubstr("storage.delete.enabled: true"));
  std::cout << s.message() << "\n";
  // Anonymous reads work there, and the manifest is still there.
  auto head = MakeClient(endpoint)->HeadManifest("team/app", "a1");
  ASSERT_TRUE(head.ok() && head->has_value());
}

TEST_F(RegistryClientRealTest, AClosedPortIsUnavailable) {
  RegistryEndpoint endpoint;
  endpoint.url = Get("closed_url");
  auto tags = MakeClient(endpoint)->ListTags("team/app");
  EXPECT_EQ(tags.status().code(), Status::Code::kUnavailable);
  EXPECT_THAT(tags.status().message(), HasSubstr(Get("closed_url")));
  EXPECT_THAT(tags.status().message(), HasSubstr("no HTTP response"));
}

TEST_F(RegistryClientRealTest, ASilentServerTimesOutAsUnavailable) {
  RegistryEndpoint endpoint;
  endpoint.url = Get("silent_url");
  endpoint.timeout = std::chrono::milliseconds(300);
  const auto start = std::chrono::steady_clock::now();
  auto head = MakeClient(endpoint)->HeadManifest("team/app", "a1");
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(head.status().code(), Status::Code::kUnavailable);
  EXPECT_THAT(head.status().message(), HasSubstr("timed out after 300 ms"));
  EXPECT_LT(took, std::chrono::seconds(5));
}

TEST_F(RegistryClientRealTest, TheTokenFlowWorksAgainstARealTokenAuthRegistry) {
  auto client = TokenClient();
  for (int round = 0; round < 3; ++round) {  // the token server checks one token per scope
    auto tags = client->ListTags("team/app");
    ASSERT_TRUE(tags.ok()) << tags.status().message();
    EXPECT_EQ(Sorted(*tags), (std::vector<std::string>{"a1", "a2", "b1"}));
    auto head = client->HeadManifest("team/app", "b1");
    ASSERT_TRUE(head.ok() && head->has_value()) << head.status().message();
    EXPECT_EQ((*head)->digest, Get("arm64"));
  }
  ASSERT_TRUE(client->DeleteManifest("team/app", Get("arm64")).ok());
  auto after = client->ListTags("team/app");
  ASSERT_TRUE(after.ok()) << after.status().message();
  EXPECT_EQ(Sorted(*after), (std::vector<std::string>{"a1", "a2"}));
}

TEST_F(RegistryClientRealTest, ATokenServiceRefusingTheCredentialsIsPermissionDenied) {
  auto tags = TokenClient("wrong-password")->ListTags("team/app");
  ASSERT_EQ(tags.status().code(), Status::Code::kPermissionDenied) << tags.status().message();
  EXPECT_THAT(tags.status().message(), HasSubstr("token service"));
  EXPECT_THAT(tags.status().message(), HasSubstr(Quoted(Get("token_user"))));
}

TEST_F(RegistryClientRealTest, OneClientServesManyThreads) {
  auto client = TlsClient(2);
  std::vector<std::thread> threads;
  threads.reserve(8);
  std::vector<int> failures(8, 0);
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 5; ++i) {
        auto head = client->HeadManifest("team/app", "multi");
        auto tags = client->ListTags("team/app");
        if (!head.ok() || !head->has_value() || (*head)->digest != Get("multi") || !tags.ok() ||
            tags->size() != 4) {
          ++failures[t];
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures, std::vector<int>(8, 0));
}

}  // namespace
}  // namespace drec
