#include "store/effects_codec.h"

#include <boost/pfr.hpp>
#include <cstring>
#include <type_traits>

namespace drec {
namespace {

// Bumped when an operation gains, loses or reorders a field: a store never decodes bytes that
// another layout wrote.
constexpr std::uint8_t kVersion = 1;

class Writer {
 public:
  explicit Writer(std::string* out) : out_(out) {}

  void Put(std::uint64_t v) {
    // Variable-length, 7 bits a byte: counters and lengths are small.
    while (v >= 0x80) {
      out_->push_back(static_cast<char>(v | 0x80));
      v >>= 7;
    }
    out_->push_back(static_cast<char>(v));
  }
  void Put(std::int64_t v) {  // zig-zag, so small negative deltas stay small
    Put((static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63));
  }
  void Put(bool v) { Put(std::uint64_t{v}); }
  void Put(const std::string& v) {
    Put(std::uint64_t{v.size()});
    out_->append(v);
  }
  void Put(const std::optional<std::int64_t>& v) {
    Put(v.has_value());
    if (v) Put(*v);
  }
  void Put(const Tally& v) {
    for (std::size_t i = 0; i < kCounterCount; ++i) Put(v.counts.at(i));
    for (std::size_t i = 0; i < kTimeFieldCount; ++i) Put(v.times.at(i));
  }
  void Put(const KnownManifest& v) {
    boost::pfr::for_each_field(v, [&](const auto& f) { Put(f); });
  }
  void Put(const std::optional<KnownManifest>& v) {
    Put(v.has_value());
    if (v) Put(*v);
  }
  void Put(const Operation& op) {
    Put(std::uint64_t{op.index()});
    std::visit(
        [&](const auto& o) { boost::pfr::for_each_field(o, [&](const auto& f) { Put(f); }); }, op);
  }
  void Put(const std::vector<Operation>& ops) {
    Put(std::uint64_t{ops.size()});
    for (const Operation& op : ops) Put(op);
  }
  void Put(const EventEffect& v) {
    boost::pfr::for_each_field(v, [&](const auto& f) { Put(f); });
  }

 private:
  std::string* out_;
};

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}

  bool ok() const { return ok_; }
  bool done() const { return in_.empty(); }

  void Get(std::uint64_t* v) {
    *v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (in_.empty()) return Fail();
      const auto byte = static_cast<std::uint8_t>(in_.front());
      in_.remove_prefix(1);
      *v |= std::uint64_t{byte & 0x7fu} << shift;
      if ((byte & 0x80u) == 0) return;
    }
    Fail();
  }
  void Get(std::int64_t* v) {
    std::uint64_t u = 0;
    Get(&u);
    *v = static_cast<std::int64_t>((u >> 1) ^ (~(u & 1) + 1));
  }
  void Get(bool* v) {
    std::uint64_t u = 0;
    Get(&u);
    if (u > 1) Fail();
    *v = u == 1;
  }
  void Get(std::string* v) {
    std::uint64_t size = 0;
    Get(&size);
    if (!ok_ || size > in_.size()) return Fail();
    v->assign(in_.substr(0, size));
    in_.remove_prefix(size);
  }
  template <typename T>
  void Get(std::optional<T>* v) {
    bool present = false;
    Get(&present);
    if (!ok_ || !present) return v->reset();
    Get(&v->emplace());
  }
  void Get(Tally* v) {
    for (std::size_t i = 0; i < kCounterCount; ++i) Get(&v->counts.at(i));
    for (std::size_t i = 0; i < kTimeFieldCount; ++i) Get(&v->times.at(i));
  }
  void Get(KnownManifest* v) {
    boost::pfr::for_each_field(*v, [&](auto& f) { Get(&f); });
  }
  void Get(Operation* op) {
    std::uint64_t index = 0;
    Get(&index);
    if (!ok_ || index >= std::variant_size_v<Operation>) return Fail();
    Emplace(op, index, std::make_index_sequence<std::variant_size_v<Operation>>());
    std::visit([&](auto& o) { boost::pfr::for_each_field(o, [&](auto& f) { Get(&f); }); }, *op);
  }
  void Get(std::vector<Operation>* ops) {
    std::uint64_t count = 0;
    Get(&count);
    // Every operation takes at least one byte: a count beyond the rest is a broken blob, not a
    // reason to reserve memory.
    if (!ok_ || count > in_.size()) return Fail();
    ops->resize(count);
    for (Operation& op : *ops) Get(&op);
  }
  void Get(EventEffect* v) {
    boost::pfr::for_each_field(*v, [&](auto& f) { Get(&f); });
  }

 private:
  template <std::size_t... I>
  static void Emplace(Operation* op, std::size_t index, std::index_sequence<I...>) {
    ((index == I ? (void)op->emplace<I>() : void()), ...);
  }
  void Fail() {
    ok_ = false;
    in_ = {};
  }

  std::string_view in_;
  bool ok_ = true;
};

}  // namespace

void EncodeEffects(std::span<const EventEffect* const> effects, std::string* out) {
  Writer writer(out);
  out->push_back(static_cast<char>(kVersion));
  writer.Put(std::uint64_t{effects.size()});
  for (const EventEffect* effect : effects) writer.Put(*effect);
}

Result<std::vector<EventEffect>> DecodeEffects(std::string_view bytes) {
  if (bytes.empty() || static_cast<std::uint8_t>(bytes.front()) != kVersion) {
    return Status::Internal("claimed effects: unknown encoding version");
  }
  Reader reader(bytes.substr(1));
  std::uint64_t count = 0;
  reader.Get(&count);
  if (!reader.ok() || count > bytes.size()) {
    return Status::Internal("claimed effects: broken effect count");
  }
  std::vector<EventEffect> effects(count);
  for (EventEffect& effect : effects) reader.Get(&effect);
  if (!reader.ok() || !reader.done()) {
    return Status::Internal("claimed effects: the encoding is truncated or has trailing bytes");
  }
  return effects;
}

}  // namespace drec
