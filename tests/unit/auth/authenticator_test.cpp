#include "auth/authenticator.h"

#include <gtest/gtest.h>

namespace drec {
namespace {

TEST(AuthenticatorTest, AnyOfSeveralTokensForRotation) {
  Authenticator auth({"old-token", "new-token"}, {});
  EXPECT_FALSE(auth.anonymous());
  EXPECT_TRUE(auth.Allows("Bearer old-token"));
  EXPECT_TRUE(auth.Allows("Bearer new-token"));
  EXPECT_TRUE(auth.Allows("bearer new-token"));
  EXPECT_FALSE(auth.Allows("Bearer new-tokeN"));
  EXPECT_FALSE(auth.Allows("Bearer new-token-and-more"));
  EXPECT_FALSE(auth.Allows("Bearer "));
  EXPECT_FALSE(auth.Allows(""));
  EXPECT_FALSE(auth.Allows("new-token"));
}

TEST(AuthenticatorTest, BasicUsers) {
  Authenticator auth({}, {{"registry", "s3cret:with:colons"}, {"ops", "pw"}});
  // base64("registry:s3cret:with:colons")
  EXPECT_TRUE(auth.Allows("Basic cmVnaXN0cnk6czNjcmV0OndpdGg6Y29sb25z"));
  EXPECT_TRUE(auth.Allows("Basic b3BzOnB3"));   // ops:pw
  EXPECT_FALSE(auth.Allows("Basic b3BzOnB4"));  // ops:px
  EXPECT_FALSE(auth.Allows("Bearer b3BzOnB3"));
}

TEST(AuthenticatorTest, NoCredentialsMeansAnonymous) {
  Authenticator auth({}, {});
  EXPECT_TRUE(auth.anonymous());
  EXPECT_TRUE(auth.Allows(""));
}

TEST(AuthenticatorTest, ReplacedCredentialsTakeOverAtOnce) {
  Authenticator auth({"old-token"}, {});
  auth.Replace({"old-token", "new-token"}, {});
  EXPECT_TRUE(auth.Allows("Bearer old-token"));
  EXPECT_TRUE(auth.Allows("Bearer new-token"));
  auth.Replace({"new-token"}, {{"ops", "pw"}});
  EXPECT_FALSE(auth.Allows("Bearer old-token"));
  EXPECT_TRUE(auth.Allows("Bearer new-token"));
  EXPECT_TRUE(auth.Allows("Basic b3BzOnB3"));  // ops:pw
  EXPECT_FALSE(auth.anonymous());
}

}  // namespace
}  // namespace drec
