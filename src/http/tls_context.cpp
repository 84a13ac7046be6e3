#include "http/tls_context.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include <cstdint>
#include <filesystem>
#include <memory>

namespace drec {
namespace {

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using PKeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using FilePtr = std::unique_ptr<FILE, decltype(&fclose)>;

bool AddExtension(X509* cert, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (ext == nullptr) return false;
  const bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

}  // namespace

Status GenerateSelfSignedCertificate(const CertificateFiles& files, int days) {
  PKeyPtr key(EVP_EC_gen("P-256"));
  X509Ptr cert(X509_new());
  if (!key || !cert) return Status::Internal("cannot create a key for the self-signed certificate");
  X509_set_version(cert.get(), 2);
  // A random serial: regenerated certificates must not collide in a client's cache.
  std::uint64_t serial = 0;
  RAND_bytes(reinterpret_cast<unsigned char*>(&serial), sizeof serial);
  ASN1_INTEGER_set_uint64(X509_get_serialNumber(cert.get()), serial >> 1);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), static_cast<long>(days) * 86400);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("drec self-signed"), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  if (!AddExtension(cert.get(), NID_basic_constraints, "critical,CA:TRUE") ||
      !AddExtension(cert.get(), NID_key_usage, "critical,digitalSignature,keyCertSign") ||
      !AddExtension(cert.get(), NID_ext_key_usage, "serverAuth,clientAuth") ||
      !AddExtension(cert.get(), NID_subject_key_identifier, "hash") ||
      !AddExtension(cert.get(), NID_subject_alt_name,
                    "DNS:localhost,IP:127.0.0.1,IP:0:0:0:0:0:0:0:1") ||
      X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) {
    return Status::Internal("cannot sign the self-signed certificate");
  }
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(files.cert).parent_path(), ec);
  FilePtr key_file(fopen(files.key.c_str(), "w"), &fclose);
  if (!key_file) return Status::Internal("cannot write " + files.key);
  std::filesystem::permissions(
      files.key, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write, ec);
  FilePtr cert_file(fopen(files.cert.c_str(), "w"), &fclose);
  if (!cert_file) return Status::Internal("cannot write " + files.cert);
  if (PEM_write_PrivateKey(key_file.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1 ||
      PEM_write_X509(cert_file.get(), cert.get()) != 1) {
    return Status::Internal("cannot write the self-signed certificate");
  }
  return Status::Ok();
}

Result<CertificateFiles> ServerCertificate(const Settings& settings) {
  if (!settings.tls_cert.empty()) return CertificateFiles{settings.tls_cert, settings.tls_key};
  const std::filesystem::path dir(settings.generated_cert_dir);
  CertificateFiles files{(dir / "cert.pem").string(), (dir / "key.pem").string()};
  if (std::filesystem::exists(files.cert) && std::filesystem::exists(files.key)) return files;
  if (Status s = GenerateSelfSignedCertificate(files, 825); !s.ok()) return s;
  return files;
}

Result<std::unique_ptr<boost::asio::ssl::context>> MakeTlsContext(const Settings& settings,
                                                                  const CertificateFiles& files) {
  namespace ssl = boost::asio::ssl;
  auto ctx = std::make_unique<ssl::context>(ssl::context::tls_server);
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
  // OpenSSL frees a connection's record buffers (about 34 KB) while it has nothing to read or
  // write: idle keep-alive connections cost that much less.
  SSL_CTX_set_mode(ctx->native_handle(), SSL_MODE_RELEASE_BUFFERS);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                   ssl::context::no_sslv3 | ssl::context::single_dh_use);
  boost::system::error_code ec;
  ctx->use_certificate_chain_file(files.cert, ec);
  if (ec)
    return Status::InvalidArgument("server.ssl.cert: cannot load " + files.cert + ": " +
                                   ec.message());
  ctx->use_private_key_file(files.key, ssl::context::pem, ec);
  if (ec) {
    return Status::InvalidArgument("server.ssl.cert_key: cannot load " + files.key + ": " +
                                   ec.message());
  }
  if (!settings.tls_client_ca.empty()) {
    ctx->load_verify_file(settings.tls_client_ca, ec);
    if (ec) {
      return Status::InvalidArgument("server.ssl.client_ca: cannot load " + settings.tls_client_ca +
                                     ": " + ec.message());
    }
    ctx->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
  }
  return ctx;
}

}  // namespace drec
