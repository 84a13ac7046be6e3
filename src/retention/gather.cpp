#include "retention/gather.h"

#include <map>
#include <set>

#include "semantics/semantics.h"

namespace drec::retention {
namespace {

constexpr std::int64_t kPage = 500;

bool AnyRuleMatches(const Policy& policy, const std::string& repository) {
  for (const Rule& rule : policy.rules) {
    if (rule.repositories.Matches(repository)) return true;
  }
  return false;
}

TagView TagOf(const std::string& tag, const std::string& digest, const TagRecord* record) {
  TagView view{tag, digest, !AttachmentSubject(tag).empty(), std::nullopt, std::nullopt, 0};
  if (record != nullptr) {
    view.attachment = view.attachment || record->attachment;
    view.lastpulled = record->counters.times[TimeField::kLastPulled];
    view.lastpushed = record->counters.times[TimeField::kLastPushed];
    view.numpulls = record->counters.counts[Counter::kPulls];
  }
  return view;
}

ManifestView ManifestOf(const DigestRecord& d, const std::set<std::string>& deleted) {
  ManifestView view{d.digest,
                    d.media_type,
                    d.counters.times[TimeField::kLastPulled],
                    d.counters.times[TimeField::kLastPushed],
                    {},
                    {}};
  for (const std::string& parent : d.parents) {
    if (!deleted.count(parent)) view.parents.push_back(parent);
  }
  return view;
}

Status PastDeadline(std::chrono::steady_clock::time_point deadline) {
  if (std::chrono::steady_clock::now() < deadline) return Status::Ok();
  return Status::Unavailable("the registry did not answer every request of the plan in time");
}

Result<RepositoryView> ViewOf(const RepositoryRecord& record, StoreReader& store,
                              RegistryClient* registry,
                              std::chrono::steady_clock::time_point deadline) {
  RepositoryView view{record.repositoryname, record.observedsince, {}, {}};
  auto tags = store.ListTags(record.repositoryname);
  if (!tags.ok()) return tags.status();
  auto digests = store.ListDigests(record.repositoryname);
  if (!digests.ok()) return digests.status();
  std::map<std::string, const TagRecord*> tag_records;
  for (const TagRecord& t : *tags) tag_records[t.tag] = &t;
  std::set<std::string> deleted;
  for (const DigestRecord& d : *digests) {
    if (d.deleted) deleted.insert(d.digest);
  }
  if (registry == nullptr) {
    for (const TagRecord& t : *tags) {
      if (!t.deleted && !t.digest.empty()) view.tags.push_back(TagOf(t.tag, t.digest, &t));
    }
    for (const DigestRecord& d : *digests) {
      if (!d.deleted && IsManifestMediaType(d.media_type)) {
        view.manifests.push_back(ManifestOf(d, deleted));
      }
    }
    return view;
  }
  auto live = registry->ListTags(record.repositoryname);
  if (!live.ok()) return live.status();
  std::map<std::string, ManifestView> manifests;
  for (const std::string& tag : *live) {
    if (Status s = PastDeadline(deadline); !s.ok()) return s;
    auto head = registry->HeadManifest(record.repositoryname, tag);
    if (!head.ok()) return head.status();
    if (!*head) continue;  // deleted between the list and the HEAD
    auto it = tag_records.find(tag);
    view.tags.push_back(
        TagOf(tag, (*head)->digest, it == tag_records.end() ? nullptr : it->second));
    manifests[(*head)->digest].media_type = (*head)->media_type;
  }
  // Manifests drec saw that no tag points at: untagged now, if the registry still has them.
  for (const DigestRecord& d : *digests) {
    if (d.deleted || !IsManifestMediaType(d.media_type) || manifests.count(d.digest)) continue;
    if (Status s = PastDeadline(deadline); !s.ok()) return s;
    auto head = registry->HeadManifest(record.repositoryname, d.digest);
    if (!head.ok()) return head.status();
    if (*head) manifests[d.digest].media_type = (*head)->media_type;
  }
  std::map<std::string, const DigestRecord*> digest_records;
  for (const DigestRecord& d : *digests) digest_records[d.digest] = &d;
  for (auto& [digest, m] : manifests) {
    const std::string media_type = m.media_type;
    if (auto it = digest_records.find(digest); it != digest_records.end()) {
      m = ManifestOf(*it->second, deleted);
    }
    m.digest = digest;
    m.media_type = media_type;
    if (IsIndexMediaType(media_type)) {
      if (Status s = PastDeadline(deadline); !s.ok()) return s;
      auto manifest = registry->GetManifest(record.repositoryname, digest);
      if (!manifest.ok()) return manifest.status();
      m.children = manifest->children;
    }
    view.manifests.push_back(std::move(m));
  }
  return view;
}

}  // namespace

Result<std::unique_ptr<RegistryClient>> RegistryClientFor(const RegistryAccess& access) {
  if (access.url.empty()) return std::unique_ptr<RegistryClient>();
  return RegistryClient::Make({.url = access.url,
                               .username = access.username,
                               .password = access.password,
                               .ca_file = access.ca_file,
                               .insecure_skip_verify = access.insecure_skip_verify,
                               .timeout = access.timeout});
}

Result<std::vector<RepositoryView>> GatherViews(const Policy& policy, StoreReader& store,
                                                RegistryClient* registry,
                                                std::chrono::steady_clock::time_point deadline) {
  std::vector<RepositoryView> views;
  RepositoryQuery query;
  query.limit = kPage;
  for (;;) {
    auto page = store.ListRepositories(query);
    if (!page.ok()) return page.status();
    for (const RepositoryRecord& record : page->items) {
      if (!AnyRuleMatches(policy, record.repositoryname)) continue;
      auto view = ViewOf(record, store, registry, deadline);
      if (!view.ok()) return view.status();
      views.push_back(std::move(view).value());
    }
    if (static_cast<std::int64_t>(page->items.size()) < kPage) break;
    query.offset += kPage;
  }
  return views;
}

}  // namespace drec::retention
