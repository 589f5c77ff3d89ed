#include "runtime/plane_tls.h"

#include <sys/stat.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <tuple>

namespace mint::runtime {
namespace {

struct KeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct CertFree {
  void operator()(X509* x) const { X509_free(x); }
};
struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
using Key = std::unique_ptr<EVP_PKEY, KeyFree>;
using Cert = std::unique_ptr<X509, CertFree>;

Status OpenSslError(const std::string& what) {
  return Status::Internal("TLS: " + what + " failed (OpenSSL)");
}

bool AddExt(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (ext == nullptr) return false;
  const bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

// A certificate for `key` named `cn`, signed by `signer` (issued by `issuer`; null: self-signed).
Result<Cert> MakeCert(EVP_PKEY* key, EVP_PKEY* signer, X509* issuer, const char* cn, bool ca) {
  Cert x(X509_new());
  if (!x) return OpenSslError("X509_new");
  unsigned char serial[16];
  if (RAND_bytes(serial, sizeof(serial)) != 1) return OpenSslError("RAND_bytes");
  serial[0] &= 0x7f;  // a positive serial
  BIGNUM* bn = BN_bin2bn(serial, sizeof(serial), nullptr);
  const bool serial_ok = bn != nullptr && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x.get()));
  BN_free(bn);
  if (!serial_ok || X509_set_version(x.get(), 2) != 1 ||
      X509_gmtime_adj(X509_getm_notBefore(x.get()), -3600) == nullptr ||
      X509_gmtime_adj(X509_getm_notAfter(x.get()), 10L * 365 * 24 * 3600) == nullptr ||
      X509_set_pubkey(x.get(), key) != 1) {
    return OpenSslError("building a certificate");
  }
  X509_NAME* name = X509_get_subject_name(x.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("mint"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn),
                             -1, -1, 0);
  X509* iss = issuer != nullptr ? issuer : x.get();
  X509_set_issuer_name(x.get(), X509_get_subject_name(iss));
  bool ok = AddExt(x.get(), iss, NID_subject_key_identifier, "hash");
  if (ca) {
    ok = ok && AddExt(x.get(), iss, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") &&
         AddExt(x.get(), iss, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    const std::string san = std::string("DNS:") + kPlaneTlsName;
    ok = ok && AddExt(x.get(), iss, NID_basic_constraints, "critical,CA:FALSE") &&
         AddExt(x.get(), iss, NID_key_usage, "critical,digitalSignature,keyEncipherment") &&
         AddExt(x.get(), iss, NID_ext_key_usage, "serverAuth,clientAuth") &&
         AddExt(x.get(), iss, NID_subject_alt_name, san.c_str()) &&
         AddExt(x.get(), iss, NID_authority_key_identifier, "keyid:always");
  }
  if (!ok) return OpenSslError("certificate extensions");
  if (X509_sign(x.get(), signer, EVP_sha256()) == 0) return OpenSslError("X509_sign");
  return x;
}

template <class Write>
Result<std::string> ToPem(Write write) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  if (!bio || !write(bio.get())) return OpenSslError("PEM encoding");
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

Result<std::string> ReadPem(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("TLS: cannot read " + path.string());
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  if (text.find("-----BEGIN ") == std::string::npos) {
    return Status::InvalidArgument("TLS: " + path.string() + " is not a PEM file");
  }
  return text;
}

}  // namespace

Result<PlaneTls> LoadPlaneTls(const std::string& dir) {
  PlaneTls tls;
  const std::filesystem::path d(dir);
  for (auto [file, out] : {std::pair{"ca.pem", &tls.ca_pem}, std::pair{"cert.pem", &tls.cert_pem},
                           std::pair{"key.pem", &tls.key_pem}}) {
    auto text = ReadPem(d / file);
    if (!text.ok()) return text.status().WithContext("TLS directory " + dir);
    *out = std::move(text).value();
  }
  return tls;
}

Result<PlaneTls> GeneratePlaneTls() {
  Key ca_key(EVP_EC_gen("P-256"));
  Key key(EVP_EC_gen("P-256"));
  if (!ca_key || !key) return OpenSslError("EC key generation");
  auto ca = MakeCert(ca_key.get(), ca_key.get(), nullptr, "mint cluster CA", /*ca=*/true);
  if (!ca.ok()) return ca.status();
  auto cert = MakeCert(key.get(), ca_key.get(), ca->get(), kPlaneTlsName, /*ca=*/false);
  if (!cert.ok()) return cert.status();
  PlaneTls tls;
  auto ca_pem = ToPem([&](BIO* b) { return PEM_write_bio_X509(b, ca->get()) == 1; });
  auto cert_pem = ToPem([&](BIO* b) { return PEM_write_bio_X509(b, cert->get()) == 1; });
  auto key_pem = ToPem([&](BIO* b) {
    return PEM_write_bio_PrivateKey(b, key.get(), nullptr, nullptr, 0, nullptr, nullptr) == 1;
  });
  if (!ca_pem.ok() || !cert_pem.ok() || !key_pem.ok()) return OpenSslError("PEM encoding");
  tls.ca_pem = std::move(ca_pem).value();
  tls.cert_pem = std::move(cert_pem).value();
  tls.key_pem = std::move(key_pem).value();
  return tls;
}

std::string PlaneCurveSecret(const PlaneTls& tls) {
  if (!tls.enabled()) return {};
  const std::string input = "mint event plane curve v1\n" + tls.key_pem;
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest);
  return std::string(reinterpret_cast<const char*>(digest), sizeof(digest));
}

Status WritePlaneTls(const PlaneTls& tls, const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::Unavailable("cannot create " + dir + ": " + ec.message());
  for (auto [file, text, mode] : {std::tuple{"ca.pem", &tls.ca_pem, 0644},
                                  std::tuple{"cert.pem", &tls.cert_pem, 0644},
                                  std::tuple{"key.pem", &tls.key_pem, 0600}}) {
    const std::string path = (std::filesystem::path(dir) / file).string();
    {
      std::ofstream out(path, std::ios::binary | std::ios::trunc);
      if (!out) return Status::Unavailable("cannot write " + path);
      ::chmod(path.c_str(), static_cast<mode_t>(mode));  // before the key is in it
      out << *text;
      if (!out) return Status::Unavailable("cannot write " + path);
    }
  }
  return Status::Ok();
}

}  // namespace mint::runtime
