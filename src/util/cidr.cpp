#include "util/cidr.h"

#include <arpa/inet.h>

#include <cstring>
#include <string>

#include "util/text_parse.h"

namespace drec {

std::optional<IpAddress> ParseIp(std::string_view text) {
  const std::string copy(text);
  IpAddress address;
  if (inet_pton(AF_INET, copy.c_str(), address.bytes.data()) == 1) return address;
  if (inet_pton(AF_INET6, copy.c_str(), address.bytes.data()) != 1) return std::nullopt;
  // ::ffff:a.b.c.d is how a dual-stack socket reports an IPv4 client.
  constexpr std::uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(address.bytes.data(), kMapped, sizeof kMapped) == 0) {
    IpAddress v4;
    std::memcpy(v4.bytes.data(), address.bytes.data() + 12, 4);
    return v4;
  }
  address.v6 = true;
  return address;
}

std::optional<Cidr> ParseCidr(std::string_view text) {
  const std::size_t slash = text.find('/');
  auto address = ParseIp(text.substr(0, slash));
  if (!address) return std::nullopt;
  const int bits = address->v6 ? 128 : 32;
  if (slash == std::string_view::npos) return Cidr{*address, bits};
  const std::string_view length = text.substr(slash + 1);
  if (length.empty() || length.size() > 3) return std::nullopt;
  auto prefix = ParseIntInRange(length, 0, bits);
  if (!prefix) return std::nullopt;
  return Cidr{*address, static_cast<int>(*prefix)};
}

std::optional<IpAddress> ParseClientAddress(std::string_view addr) {
  if (auto bare = ParseIp(addr)) return bare;
  if (addr.starts_with('[')) {
    const std::size_t close = addr.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    return ParseIp(addr.substr(1, close - 1));
  }
  const std::size_t colon = addr.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  return ParseIp(addr.substr(0, colon));
}

bool Contains(const Cidr& cidr, const IpAddress& address) {
  if (cidr.network.v6 != address.v6) return false;
  int bits = cidr.prefix;
  for (std::size_t i = 0; bits > 0; ++i, bits -= 8) {
    const auto mask = static_cast<std::uint8_t>(bits >= 8 ? 0xff : 0xff << (8 - bits));
    if ((cidr.network.bytes[i] & mask) != (address.bytes[i] & mask)) return false;
  }
  return true;
}

}  // namespace drec
