// IP addresses and CIDR ranges, parsed by hand (inet_pton), so that the traffic classes
// (semantics/traffic_class.h) can match a client address and the config can refuse a wrong
// range at start-up with the same parser.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

namespace drec {

// An IPv4 or IPv6 address; IPv4 addresses also as IPv4-mapped IPv6 (::ffff:a.b.c.d) are IPv4.
struct IpAddress {
  bool v6 = false;
  std::array<std::uint8_t, 16> bytes{};  // network order; the first 4 for IPv4
  bool operator==(const IpAddress&) const = default;
};

// A network: the addresses whose first `prefix` bits equal those of `network`.
struct Cidr {
  IpAddress network;
  int prefix = 0;
  bool operator==(const Cidr&) const = default;
};

// "10.0.0.0/8", "fd00::/8", or a bare address (a /32 or /128); nullopt for anything else,
// including a prefix longer than the address.
[[nodiscard]] std::optional<Cidr> ParseCidr(std::string_view text);

// A bare address: "10.1.2.3", "fd00::1".
[[nodiscard]] std::optional<IpAddress> ParseIp(std::string_view text);

// The address of a registry event's request.addr: "ip:port", "[v6]:port" or a bare address (a
// registry behind a proxy may report the forwarded client address alone).
[[nodiscard]] std::optional<IpAddress> ParseClientAddress(std::string_view addr);

// True when `address` lies in `cidr`; an IPv4 address is never in an IPv6 range, and the reverse.
[[nodiscard]] bool Contains(const Cidr& cidr, const IpAddress& address);

}  // namespace drec
