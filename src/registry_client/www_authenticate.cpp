#include "registry_client/www_authenticate.h"

#include <cctype>
#include <map>
#include <vector>

namespace drec {
namespace {

bool IsTokenChar(char c) {
  // RFC 7230 tchar
  return std::isalnum(static_cast<unsigned char>(c)) != 0 ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// A cursor over a header value; every method stops at the end of the input, so no loop below
// can run past it.
class Cursor {
 public:
  explicit Cursor(std::string_view s) : s_(s) {}
  bool done() const { return pos_ >= s_.size(); }
  char peek() const { return done() ? '\0' : s_[pos_]; }
  void SkipSpaces() {
    while (!done() && (s_[pos_] == ' ' || s_[pos_] == '\t')) ++pos_;
  }
  bool Consume(char c) {
    SkipSpaces();
    if (peek() != c) return false;
    ++pos_;
    return true;
  }
  std::string_view Token() {
    SkipSpaces();
    const size_t start = pos_;
    while (!done() && IsTokenChar(s_[pos_])) ++pos_;
    return s_.substr(start, pos_ - start);
  }
  // A quoted-string (the opening quote is next), unescaped; nullopt when unterminated.
  std::optional<std::string> Quoted() {
    if (!Consume('"')) return std::nullopt;
    std::string out;
    while (!done()) {
      const char c = s_[pos_++];
      if (c == '"') return out;
      if (c == '\\' && !done()) {
        out.push_back(s_[pos_++]);
      } else {
        out.push_back(c);
      }
    }
    return std::nullopt;
  }
  // A parameter value: a quoted string or a token.
  std::optional<std::string> Value() {
    SkipSpaces();
    if (peek() == '"') return Quoted();
    const std::string_view token = Token();
    if (token.empty()) return std::nullopt;
    return std::string(token);
  }
  size_t pos() const { return pos_; }
  void set_pos(size_t pos) { pos_ = pos; }

 private:
  std::string_view s_;
  size_t pos_ = 0;
};

}  // namespace

std::optional<BearerChallenge> ParseBearerChallenge(std::string_view header) {
  Cursor cursor(header);
  while (!cursor.done()) {
    const size_t before = cursor.pos();
    // A challenge: scheme, then name=value parameters separated by commas. A token followed by
    // a space and not by `=` starts the next challenge.
    while (cursor.Consume(',')) {
    }
    const std::string scheme = Lower(cursor.Token());
    if (scheme.empty()) return std::nullopt;  // garbage: give up rather than guess
    std::map<std::string, std::string> params;
    while (!cursor.done()) {
      const size_t param_start = cursor.pos();
      while (cursor.Consume(',')) {
      }
      const std::string name = Lower(cursor.Token());
      if (name.empty() || !cursor.Consume('=')) {
        cursor.set_pos(param_start);  // the next challenge's scheme, or the end
        break;
      }
      std::optional<std::string> value = cursor.Value();
      if (!value) return std::nullopt;
      params.emplace(name, std::move(*value));
    }
    if (scheme == "bearer") {
      auto realm = params.find("realm");
      if (realm == params.end() || realm->second.empty()) return std::nullopt;
      return BearerChallenge{realm->second, params["service"], params["scope"]};
    }
    if (cursor.pos() == before) return std::nullopt;  // no progress: malformed
    // A token68 credential form (`Negotiate abc==`) leaves an unparsed token; skip to the next
    // comma so the next challenge can still be found.
    cursor.SkipSpaces();
    while (!cursor.done() && cursor.peek() != ',' && !IsTokenChar(cursor.peek())) {
      cursor.set_pos(cursor.pos() + 1);
    }
  }
  return std::nullopt;
}

std::optional<std::string> NextLink(std::string_view header) {
  Cursor cursor(header);
  while (!cursor.done()) {
    while (cursor.Consume(',')) {
    }
    if (!cursor.Consume('<')) return std::nullopt;
    const size_t start = cursor.pos();
    const size_t end = header.find('>', start);
    if (end == std::string_view::npos) return std::nullopt;
    const std::string target(header.substr(start, end - start));
    cursor.set_pos(end + 1);
    bool next = false;
    while (cursor.Consume(';')) {
      const std::string name = Lower(cursor.Token());
      if (name.empty() || !cursor.Consume('=')) return std::nullopt;
      std::optional<std::string> value = cursor.Value();
      if (!value) return std::nullopt;
      if (name == "rel") {
        // rel may list several space-separated relation types.
        std::string rels(1, ' ');
        rels.append(Lower(*value)).push_back(' ');
        next = next || rels.find(" next ") != std::string::npos;
      }
    }
    if (next) return target;
    cursor.SkipSpaces();
    if (!cursor.done() && cursor.peek() != ',') return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace drec
