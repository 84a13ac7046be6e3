// Decides whether an Authorization header carries one of the configured
// credentials. The registry can only send static headers, so bearer tokens and
// basic users are static secrets, compared in constant time (README, "Pointing a registry at
// drec").
#pragma once

#include <array>
#include <atomic>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/settings.h"

namespace drec {

class Authenticator {
 public:
  Authenticator(const std::vector<std::string>& tokens, const std::vector<BasicUser>& users);

  // True when the header matches a credential, or when none are configured.
  // Every credential is compared, whatever matched first, so timing tells nothing.
  bool Allows(std::string_view authorization) const;

  // True when requests need no credentials at all.
  bool anonymous() const { return expected_.load()->empty(); }

  // Puts new credentials in force for every later check (a reload rotating a token); a check
  // running meanwhile uses either the old set or the new one, never a mix.
  void Replace(const std::vector<std::string>& tokens, const std::vector<BasicUser>& users);

 private:
  using Digest = std::array<unsigned char, 32>;
  using Digests = std::vector<Digest>;
  // SHA-256 of the canonical header: fixed-length values make the comparison length-independent.
  static Digest Hash(std::string_view canonical_header);
  static std::shared_ptr<const Digests> Expected(const std::vector<std::string>& tokens,
                                                 const std::vector<BasicUser>& users);

  std::atomic<std::shared_ptr<const Digests>> expected_;
};

}  // namespace drec
