#include "model/names.h"

namespace drec {
namespace {

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool IsAlnum(char c) { return IsLowerAlnum(c) || (c >= 'A' && c <= 'Z'); }
bool IsWord(char c) { return IsAlnum(c) || c == '_'; }
bool IsHex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// [a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*
bool IsPathComponent(std::string_view s) {
  std::size_t i = 0;
  for (;;) {
    const std::size_t run = i;
    while (i < s.size() && IsLowerAlnum(s[i])) ++i;
    if (i == run) return false;
    if (i == s.size()) return true;
    if (s[i] == '.') {
      ++i;
    } else if (s[i] == '_') {
      i += s.substr(i).starts_with("__") ? 2 : 1;
    } else if (s[i] == '-') {
      while (i < s.size() && s[i] == '-') ++i;
    } else {
      return false;
    }
  }
}

// (?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])
bool IsDomainComponent(std::string_view s) {
  if (s.empty() || !IsAlnum(s.front()) || !IsAlnum(s.back())) return false;
  for (char c : s) {
    if (!IsAlnum(c) && c != '-') return false;
  }
  return true;
}

bool IsPort(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// host[:port], where host is dot-separated domain components or a bracketed IPv6 address.
bool IsDomain(std::string_view s) {
  std::string_view host = s;
  if (s.starts_with('[')) {
    const std::size_t close = s.find(']');
    if (close == std::string_view::npos || close == 1) return false;
    for (char c : s.substr(1, close - 1)) {
      if (!IsHex(c) && c != ':') return false;
    }
    const std::string_view rest = s.substr(close + 1);
    return rest.empty() || (rest.front() == ':' && IsPort(rest.substr(1)));
  }
  if (const std::size_t colon = s.rfind(':'); colon != std::string_view::npos) {
    if (!IsPort(s.substr(colon + 1))) return false;
    host = s.substr(0, colon);
  }
  for (;;) {
    const std::size_t dot = host.find('.');
    if (!IsDomainComponent(host.substr(0, dot))) return false;
    if (dot == std::string_view::npos) return true;
    host.remove_prefix(dot + 1);
  }
}

}  // namespace

bool IsRepositoryName(std::string_view name) {
  if (name.empty() || name.size() > kMaxRepositoryNameBytes) return false;
  std::string_view rest = name;
  // The first component may be a domain instead; the grammar tries the domain first, and a
  // name with a single component has none.
  if (const std::size_t slash = rest.find('/'); slash != std::string_view::npos) {
    const std::string_view first = rest.substr(0, slash);
    if (!IsPathComponent(first) && !IsDomain(first)) return false;
    rest.remove_prefix(slash + 1);
  }
  for (;;) {
    const std::size_t slash = rest.find('/');
    if (!IsPathComponent(rest.substr(0, slash))) return false;
    if (slash == std::string_view::npos) return true;
    rest.remove_prefix(slash + 1);
  }
}

bool IsTag(std::string_view tag) {
  if (tag.empty() || tag.size() > kMaxTagBytes || !IsWord(tag.front())) return false;
  for (char c : tag) {
    if (!IsWord(c) && c != '.' && c != '-') return false;
  }
  return true;
}

bool IsDigest(std::string_view digest) {
  if (digest.size() > kMaxDigestBytes) return false;
  const std::size_t colon = digest.find(':');
  if (colon == std::string_view::npos) return false;
  const std::string_view algorithm = digest.substr(0, colon);
  const std::string_view hex = digest.substr(colon + 1);
  if (hex.size() < 32) return false;
  for (char c : hex) {
    if (!IsHex(c)) return false;
  }
  // [A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*
  bool component_start = true;
  for (char c : algorithm) {
    if (component_start) {
      if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) return false;
      component_start = false;
    } else if (c == '-' || c == '_' || c == '+' || c == '.') {
      component_start = true;
    } else if (!IsAlnum(c)) {
      return false;
    }
  }
  return !component_start;
}

bool IsPlainText(std::string_view text, std::size_t max_bytes) {
  if (text.empty() || text.size() > max_bytes) return false;
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7F) return false;
  }
  return true;
}

}  // namespace drec
