#include "util/text_parse.h"

#include <algorithm>
#include <charconv>
#include <iterator>
#include <utility>

namespace drec {
namespace {

constexpr std::string_view kWhitespace = " \t\r\n\v\f";

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

std::string_view Trim(std::string_view text) {
  const auto first = text.find_first_not_of(kWhitespace);
  if (first == std::string_view::npos) return {};
  return text.substr(first, text.find_last_not_of(kWhitespace) - first + 1);
}

std::string AsciiLower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::optional<std::int64_t> ParseInt(std::string_view text) {
  std::int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<std::int64_t> ParseIntInRange(std::string_view text, std::int64_t min,
                                            std::int64_t max) {
  const auto value = ParseInt(text);
  if (!value || *value < min || *value > max) return std::nullopt;
  return value;
}

std::optional<std::int64_t> ParseDays(std::string_view text) {
  if (text.size() < 2 || text.back() != 'd') return std::nullopt;
  return ParseIntInRange(text.substr(0, text.size() - 1), 1, INT64_MAX);
}

std::optional<std::chrono::duration<double, std::nano>> ParseGoDuration(std::string_view text) {
  static constexpr std::pair<std::string_view, double> kUnits[] = {
      {"ns", 1},   {"us", 1e3}, {"\u00b5s", 1e3}, {"\u03bcs", 1e3},
      {"ms", 1e6}, {"s", 1e9},  {"m", 60e9},      {"h", 3600e9}};
  if (text.empty()) return std::nullopt;
  double total = 0;
  while (!text.empty()) {
    std::size_t i = 0;
    double number = 0;
    bool digits = false;
    for (; i < text.size() && IsDigit(text[i]); ++i, digits = true) {
      number = number * 10 + (text[i] - '0');
    }
    if (i < text.size() && text[i] == '.') {
      double scale = 0.1;
      for (++i; i < text.size() && IsDigit(text[i]); ++i, scale /= 10, digits = true) {
        number += (text[i] - '0') * scale;
      }
    }
    const std::size_t unit_start = i;
    while (i < text.size() && !IsDigit(text[i]) && text[i] != '.') ++i;
    const std::string_view unit = text.substr(unit_start, i - unit_start);
    const auto* found = std::find_if(std::begin(kUnits), std::end(kUnits),
                                     [&](const auto& u) { return u.first == unit; });
    if (!digits || found == std::end(kUnits)) return std::nullopt;
    total += number * found->second;
    text.remove_prefix(i);
  }
  return std::chrono::duration<double, std::nano>(total);
}

std::optional<bool> ParseBool(std::string_view text) {
  const std::string word = AsciiLower(text);
  if (word == "true" || word == "yes" || word == "1") return true;
  if (word == "false" || word == "no" || word == "0") return false;
  return std::nullopt;
}

std::vector<std::string> SplitList(std::string_view text) {
  std::vector<std::string> items;
  if (Trim(text).empty()) return items;
  for (std::size_t start = 0;;) {
    const std::size_t comma = text.find(',', start);
    items.emplace_back(Trim(text.substr(start, comma - start)));
    if (comma == std::string_view::npos) return items;
    start = comma + 1;
  }
}

std::string Join(const std::vector<std::string>& items, std::string_view separator) {
  std::string out;
  for (const std::string& item : items) {
    if (!out.empty()) out += separator;
    out += item;
  }
  return out;
}

}  // namespace drec
