#include "auth/authenticator.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include <cctype>

namespace drec {
namespace {

std::string Base64(std::string_view in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(in.data()),
                                static_cast<int>(in.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

// "bearer  abc" -> "Bearer abc": the scheme is case-insensitive (RFC 9110), the credentials are
// not.
std::string Canonical(std::string_view header) {
  while (!header.empty() && header.front() == ' ') header.remove_prefix(1);
  while (!header.empty() && header.back() == ' ') header.remove_suffix(1);
  const auto space = header.find(' ');
  if (space == std::string_view::npos) return std::string(header);
  std::string scheme(header.substr(0, space));
  for (auto& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string_view credentials = header.substr(space);
  while (!credentials.empty() && credentials.front() == ' ') credentials.remove_prefix(1);
  return scheme + " " + std::string(credentials);
}

}  // namespace

Authenticator::Authenticator(const std::vector<std::string>& tokens,
                             const std::vector<BasicUser>& users)
    : expected_(Expected(tokens, users)) {}

void Authenticator::Replace(const std::vector<std::string>& tokens,
                            const std::vector<BasicUser>& users) {
  expected_.store(Expected(tokens, users));
}

std::shared_ptr<const Authenticator::Digests> Authenticator::Expected(
    const std::vector<std::string>& tokens, const std::vector<BasicUser>& users) {
  auto digests = std::make_shared<Digests>();
  for (const auto& token : tokens) digests->push_back(Hash("bearer " + token));
  for (const auto& user : users) {
    digests->push_back(Hash("basic " + Base64(user.user + ":" + user.password)));
  }
  return digests;
}

Authenticator::Digest Authenticator::Hash(std::string_view canonical_header) {
  Digest digest{};
  SHA256(reinterpret_cast<const unsigned char*>(canonical_header.data()), canonical_header.size(),
         digest.data());
  return digest;
}

bool Authenticator::Allows(std::string_view authorization) const {
  const std::shared_ptr<const Digests> in_force = expected_.load();
  if (in_force->empty()) return true;
  const Digest presented = Hash(Canonical(authorization));
  int matches = 0;
  for (const Digest& expected : *in_force) {
    matches |= CRYPTO_memcmp(presented.data(), expected.data(), presented.size()) == 0;
  }
  return matches != 0;
}

}  // namespace drec
