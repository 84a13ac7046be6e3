// Builds the server's TLS context: TLS 1.2 minimum, the configured or a
// generated certificate, and optional client-certificate verification (mTLS).
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <string>

#include "config/settings.h"
#include "util/status.h"

namespace drec {

// Paths of a certificate and its key.
struct CertificateFiles {
  std::string cert;
  std::string key;
};

// Returns the configured certificate, or one generated for localhost in
// `settings.generated_cert_dir` (created on first start, reused afterwards so
// that clients that trust it keep trusting it).
Result<CertificateFiles> ServerCertificate(const Settings& settings);

// Creates a self-signed certificate (CA:TRUE, so it can be its own trust
// anchor) for localhost, 127.0.0.1 and ::1, valid for `days`.
Status GenerateSelfSignedCertificate(const CertificateFiles& files, int days);

Result<std::unique_ptr<boost::asio::ssl::context>> MakeTlsContext(const Settings& settings,
                                                                  const CertificateFiles& files);

}  // namespace drec
