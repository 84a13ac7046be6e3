#include "semantics/coalesce.h"

#include <cstddef>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>

namespace drec {
namespace {

// The record an additive operation adds to: views of the operation's own names.
struct RecordKey {
  std::size_t type = 0;  // the operation's index in Operation
  int removals = 0;      // of the repository before the operation: records start afresh
  std::string_view registry, repository, first, second, third;
  bool operator==(const RecordKey&) const = default;
};

struct RecordKeyHash {
  std::size_t operator()(const RecordKey& key) const {
    std::size_t hash = key.type * 31 + static_cast<std::size_t>(key.removals);
    for (std::string_view part : {key.registry, key.repository, key.first, key.second, key.third}) {
      hash = hash * 1'000'003 ^ std::hash<std::string_view>{}(part);
    }
    return hash;
  }
};

// The operations that only add to one record, and so merge (coalesce.h says why they commute).
template <typename Op>
constexpr bool kAdditive = std::is_same_v<Op, RepositoryUpdate> || std::is_same_v<Op, TagUpdate> ||
                           std::is_same_v<Op, DigestUpdate> || std::is_same_v<Op, ActorUpdate> ||
                           std::is_same_v<Op, DayUpdate> || std::is_same_v<Op, ClassUpdate>;

// The record an additive operation adds to, within its repository.
void SetRecord(RecordKey* key, const RepositoryUpdate& op) {
  // The actor joins the repository's bounded list in first-seen order; updates with different
  // actors stay apart, each where its actor was first seen.
  key->first = op.actor;
}
void SetRecord(RecordKey* key, const TagUpdate& op) { key->first = op.tag; }
void SetRecord(RecordKey* key, const DigestUpdate& op) { key->first = op.digest; }
void SetRecord(RecordKey* key, const ActorUpdate& op) { key->first = op.actor; }
void SetRecord(RecordKey* key, const DayUpdate& op) { key->first = op.day; }
void SetRecord(RecordKey* key, const ClassUpdate& op) {
  key->first = op.cls;
  key->second = op.tag;
  key->third = op.day;
}

void Merge(RepositoryUpdate& into, const RepositoryUpdate& op) {
  into.delta += op.delta;
  into.observed_since = Earliest(into.observed_since, op.observed_since);
}
void Merge(TagUpdate& into, const TagUpdate& op) { into.delta += op.delta; }
void Merge(DigestUpdate& into, const DigestUpdate& op) {
  // A store keeps the media type and size it knows when an operation carries none.
  if (!op.media_type.empty()) into.media_type = op.media_type;
  if (op.size != 0) into.size = op.size;
  into.delta += op.delta;
}
void Merge(ActorUpdate& into, const ActorUpdate& op) {
  into.delta += op.delta;
  into.firstseen = Earliest(into.firstseen, op.firstseen);
  into.lastseen = Latest(into.lastseen, op.lastseen);
}
void Merge(DayUpdate& into, const DayUpdate& op) { into.delta += op.delta; }
void Merge(ClassUpdate& into, const ClassUpdate& op) { into.delta += op.delta; }

class Coalescer {
 public:
  // `operations`: how many will be added at most, so that the kept ones never move and the keys
  // can view their names.
  explicit Coalescer(std::size_t operations) {
    operations_.reserve(operations);
    first_of_record_.reserve(operations);
  }

  void Add(const std::string& registry, Operation&& operation) {
    const std::size_t type = operation.index();
    std::visit([&](auto&& op) { Add(registry, type, std::forward<decltype(op)>(op)); },
               std::move(operation));
  }

  std::vector<Operation> Take() && { return std::move(operations_); }

 private:
  template <typename Op>
  void Add(const std::string& registry, std::size_t type, Op op) {
    if constexpr (std::is_same_v<Op, RepositoryRemoved>) {
      // Later updates start records afresh: they merge with each other, never across this.
      ++removals_[registry + '\0' + op.repository];
    }
    if constexpr (kAdditive<Op>) {
      RecordKey key{type, Removals(registry, op.repository), registry, op.repository, {}, {}, {}};
      SetRecord(&key, op);
      if (const auto first = first_of_record_.find(key); first != first_of_record_.end()) {
        Merge(std::get<Op>(operations_[first->second]), op);
        return;
      }
      const Op& kept = std::get<Op>(operations_.emplace_back(std::move(op)));
      key.repository = kept.repository;
      SetRecord(&key, kept);
      first_of_record_.emplace(key, operations_.size() - 1);
      return;
    }
    operations_.emplace_back(std::move(op));
  }

  int Removals(const std::string& registry, const std::string& repository) const {
    if (removals_.empty()) return 0;
    const auto found = removals_.find(registry + '\0' + repository);
    return found == removals_.end() ? 0 : found->second;
  }

  std::vector<Operation> operations_;
  // Each record's first additive operation, by its position in operations_.
  std::unordered_map<RecordKey, std::size_t, RecordKeyHash> first_of_record_;
  // How many times each repository (registry NUL name) was removed so far.
  std::unordered_map<std::string, int> removals_;
};

}  // namespace

std::vector<Operation> CoalesceEffects(std::vector<EventEffect> effects) {
  std::size_t operations = 0;
  for (const EventEffect& effect : effects) operations += effect.operations.size();
  Coalescer coalescer(operations);
  for (EventEffect& effect : effects) {
    for (Operation& operation : effect.operations) {
      coalescer.Add(effect.registry, std::move(operation));
    }
  }
  return std::move(coalescer).Take();
}

}  // namespace drec
