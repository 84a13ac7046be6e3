#include "registry_client/www_authenticate.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>

namespace drec {
namespace {

TEST(ParseBearerChallengeTest, ReadsTheRegistryChallenge) {
  // As distribution 2.8 sends it for a tags/list without a token.
  auto c = ParseBearerChallenge(
      R"(Bearer realm="https://auth.example:5001/token",service="registry.example",)"
      R"(scope="repository:team/app:pull")");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->realm, "https://auth.example:5001/token");
  EXPECT_EQ(c->service, "registry.example");
  EXPECT_EQ(c->scope, "repository:team/app:pull");
}

TEST(ParseBearerChallengeTest, SchemeAndNamesAreCaseInsensitiveAndSpacesAllowed) {
  auto c = ParseBearerChallenge(R"(bEaReR  Realm = "http://a/t" , SERVICE=reg ,scope="x")");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->realm, "http://a/t");
  EXPECT_EQ(c->service, "reg");
  EXPECT_EQ(c->scope, "x");
}

TEST(ParseBearerChallengeTest, KeepsCommasAndEscapesInsideQuotedValues) {
  auto c = ParseBearerChallenge(
      R"(Bearer realm="http://a/t",scope="repository:a:pull,push repository:b:pull",)"
      R"(service="say \"hi\"")");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->scope, "repository:a:pull,push repository:b:pull");
  EXPECT_EQ(c->service, R"(say "hi")");
}

TEST(ParseBearerChallengeTest, FindsBearerAmongSeveralChallenges) {
  auto c = ParseBearerChallenge(R"(Basic realm="basic", charset="UTF-8", Bearer realm="http://t")");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->realm, "http://t");
  EXPECT_EQ(c->service, "");
  EXPECT_EQ(c->scope, "");
}

TEST(ParseBearerChallengeTest, NoBearerOrNoRealmOrMalformedIsNullopt) {
  EXPECT_FALSE(ParseBearerChallenge(R"(Basic realm="Registry Realm")").has_value());
  EXPECT_FALSE(ParseBearerChallenge(R"(Bearer service="s",scope="x")").has_value());
  EXPECT_FALSE(ParseBearerChallenge(R"(Bearer realm="")").has_value());
  EXPECT_FALSE(ParseBearerChallenge(R"(Bearer realm="unterminated)").has_value());
  EXPECT_FALSE(ParseBearerChallenge("").has_value());
  EXPECT_FALSE(ParseBearerChallenge("   ,,, ").has_value());
  EXPECT_FALSE(ParseBearerChallenge("Bearer realm=").has_value());
  EXPECT_FALSE(ParseBearerChallenge("\"Bearer\" realm=x").has_value());
}

TEST(NextLinkTest, ReadsTheRegistryLink) {
  // As distribution sends it for tags/list?n=2.
  EXPECT_EQ(NextLink(R"(</v2/team/app/tags/list?last=b&n=2>; rel="next")"),
            "/v2/team/app/tags/list?last=b&n=2");
}

TEST(NextLinkTest, FindsNextAmongSeveralLinksAndRelationTypes) {
  EXPECT_EQ(NextLink(R"(<https://r/prev>; rel="prev", <https://r/v2/x?last=c>; rel=next)"),
            "https://r/v2/x?last=c");
  EXPECT_EQ(NextLink(R"(</a>; title="a;b, c"; rel="last NEXT")"), "/a");
}

TEST(NextLinkTest, NoNextOrMalformedIsNullopt) {
  EXPECT_FALSE(NextLink("").has_value());
  EXPECT_FALSE(NextLink(R"(</v2/x>; rel="prev")").has_value());
  EXPECT_FALSE(NextLink(R"(</v2/x; rel="next")").has_value());
  EXPECT_FALSE(NextLink(R"(/v2/x; rel="next")").has_value());
  EXPECT_FALSE(NextLink(R"(</v2/x>; rel)").has_value());
  EXPECT_FALSE(NextLink(R"(</v2/x> junk; rel="next")").has_value());
}

}  // namespace
}  // namespace drec
