#include "model/names.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace drec {
namespace {

const std::string kHex64(64, 'a');

TEST(NamesTest, RepositoryNamesARegistryServes) {
  for (const std::string name :
       {"a", "library/ubuntu", "team/app/web", "a.b_c__d-e---f", "0x/1", "localhost:5000/app",
        "Registry.Example.com/team/app", "my-host/a", "[::1]:5000/app", "[fe80::1]/app"}) {
    EXPECT_TRUE(IsRepositoryName(name)) << name;
  }
  // Exactly at the limit, and one byte over it.
  EXPECT_TRUE(IsRepositoryName(std::string(255, 'r')));
  EXPECT_FALSE(IsRepositoryName(std::string(256, 'r')));
  EXPECT_FALSE(IsRepositoryName(std::string(100, 'r') + "/" + std::string(200, 'r')));
}

TEST(NamesTest, RepositoryNamesTheGrammarRefuses) {
  for (const std::string name :
       {"",        "App",     "team/App",  "-a",          "a-",      "a_",     "_a",
        "a..b",    "a___b",   "a//b",      "a/",          "/a",      "a b",    "a\nb",
        "=cmd",    "@x",      "caf\u00e9", "host:port/a", "host:/a", "[::1/a", "[]/a",
        "-host/a", "host-/a", "a:5000",    "team/a:5000"}) {
    EXPECT_FALSE(IsRepositoryName(name)) << name;
  }
}

TEST(NamesTest, Tags) {
  for (const std::string& tag :
       std::vector<std::string>{"latest", "v1.0.0-rc_1", "_x", "X", "sha256-" + kHex64 + ".sig"}) {
    EXPECT_TRUE(IsTag(tag)) << tag;
  }
  EXPECT_TRUE(IsTag(std::string(128, 't')));
  for (const std::string& tag : std::vector<std::string>{
           std::string(), std::string(129, 't'), std::string(".x"), std::string("-x"),
           std::string("a/b"), std::string("a:b"), std::string("caf\u00e9"), std::string("a b")}) {
    EXPECT_FALSE(IsTag(tag)) << tag;
  }
}

TEST(NamesTest, Digests) {
  for (const std::string& digest :
       std::vector<std::string>{"sha256:" + kHex64, "sha512:" + std::string(128, 'F'),
                                "sha256+b64u.x-y_z:" + kHex64, "Sha256:" + kHex64.substr(32)}) {
    EXPECT_TRUE(IsDigest(digest)) << digest;
  }
  for (const std::string& digest : std::vector<std::string>{
           std::string(), "sha256", "sha256:abc", ":" + kHex64, "sha256:" + std::string(64, 'g'),
           "1sha:" + kHex64, "sha-:" + kHex64, "sha256::" + kHex64,
           "sha256:" + std::string(300, 'a')}) {
    EXPECT_FALSE(IsDigest(digest)) << digest;
  }
}

TEST(NamesTest, PlainText) {
  EXPECT_TRUE(IsPlainText("alice", 1024));
  EXPECT_TRUE(IsPlainText("J\u00fcrgen M\u00fcller <jm@example.com>", 1024));
  EXPECT_TRUE(IsPlainText(std::string(1024, 'x'), 1024));
  EXPECT_FALSE(IsPlainText(std::string(1025, 'x'), 1024));
  EXPECT_FALSE(IsPlainText("", 1024));
  EXPECT_FALSE(IsPlainText(std::string("a\0b", 3), 1024));
  EXPECT_FALSE(IsPlainText("a\tb", 1024));
  EXPECT_FALSE(IsPlainText("a\x7f", 1024));
}

}  // namespace
}  // namespace drec
