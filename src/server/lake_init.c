/* `tarn init` and `tarn init --self-signed`: creating a lake (folders, catalog database,
 * keyring, the admin's identity and credentials file) and its self-signed certificate.
 * `tarn serve` creates the lake the same way when its data folder has none. */
#include "catalog/events.h"
#include "govern/iam.h"
#include "govern/keyring.h"
#include "govern/password.h"
#include "govern/tlscert.h"
#include "server/server.h"
#include "server/server_state.h"
#include "storage/store.h"
#include "util/buf.h"
#include "util/db.h"
#include "util/fs.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int server_open_db(db_t **db, const char *data_dir, tarn_err_t *err)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/tarn.db", data_dir);
    int rc = db_open(db, p, err);
    /* It holds sealed secrets and password verifiers: owner only (SQLite gives its -wal
     * and -shm files the database's mode). */
    if (!rc && chmod(p, 0600))
        rc = TARN_ERR(err, TARN_EIO, "chmod %s: %s", p, strerror(errno));
    if (!rc)
        rc = catalog_events_init(*db, err);
    return rc;
}

int server_init_lake(const char *data_dir, void *out_file, tarn_err_t *err)
{
    FILE *out = out_file;
    char p[4200], keys[4200];
    keyring_t *kr = NULL;
    store_t *store = NULL;
    db_t *db = NULL;
    iam_t *iam = NULL;
    char password[PASSWORD_GEN_LEN + 1] = "", ak[21] = "", sk[41] = "";
    buf_t cred = BUF_INIT;
    snprintf(p, sizeof p, "%s/tarn.db", data_dir);
    if (fs_exists(p))
        return TARN_ERR(err, TARN_EEXISTS, "a lake already exists in %s", data_dir);
    int rc = fs_mkdir_p(data_dir, 0750, err);
    const char *dirs[] = {"wal", "audit"};
    for (size_t i = 0; !rc && i < 2; i++) {
        snprintf(p, sizeof p, "%s/%s", data_dir, dirs[i]);
        rc = fs_mkdir_p(p, 0700, err);
    }
    snprintf(keys, sizeof keys, "%s/keys", data_dir);
    if (!rc && !fs_exists(keys))
        rc = keyring_create(keys, err);
    if (rc || (rc = keyring_open(&kr, keys, err)) || (rc = server_open_db(&db, data_dir, err)) ||
        (rc = store_open(&store, data_dir, db, err)) || (rc = iam_open(&iam, db, kr, err)))
        goto done;
    if (password_generate(password, sizeof password)) {
        rc = TARN_ERR(err, TARN_EIO, "no randomness for the admin password");
        goto done;
    }
    if ((rc = iam_user_create(iam, "admin", true, password, err)) ||
        (rc = iam_key_create(iam, "admin", NULL, ak, sk, err)))
        goto done;
    buf_printf(&cred,
               "# tarn admin credentials (AWS shared-credentials format)\n"
               "[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n"
               "tarn_password = %s\n",
               ak, sk, password);
    snprintf(p, sizeof p, "%s/admin.credentials", data_dir);
    if ((rc = fs_write_atomic(p, cred.data, cred.len, 0600, err)))
        goto done;
    if (out)
        fprintf(out,
                "Created a lake in %s\n\n"
                "  user        admin\n"
                "  access key  %s\n"
                "  secret key  %s\n"
                "  password    %s\n\n"
                "These are shown once and saved in %s (mode 0600).\n",
                data_dir, ak, sk, password, p);
    if (out)
        fflush(out);
done:
    OPENSSL_cleanse(password, sizeof password);
    OPENSSL_cleanse(sk, sizeof sk);
    if (cred.data)
        OPENSSL_cleanse(cred.data, cred.len);
    buf_free(&cred);
    iam_close(iam);
    store_close(store);
    db_close(db);
    keyring_free(kr);
    return rc;
}

int server_init_tls(const char *data_dir, void *out_file, tarn_err_t *err)
{
    FILE *out = out_file;
    char dir[4200], cert[4300], key[4300], host[256] = "";
    snprintf(dir, sizeof dir, "%s/tls", data_dir);
    snprintf(cert, sizeof cert, "%s/cert.pem", dir);
    snprintf(key, sizeof key, "%s/key.pem", dir);
    bool made = false;
    if (!fs_exists(cert) || !fs_exists(key)) {
        int rc = fs_mkdir_p(dir, 0700, err);
        /* A host name that is not a plain DNS name (or none) leaves only the loopback
         * names in the certificate. */
        if (gethostname(host, sizeof host - 1))
            host[0] = '\0';
        if (!rc && (rc = tlscert_create_self_signed(cert, key, host, 365, err)) == TARN_EINVAL) {
            host[0] = '\0';
            rc = tlscert_create_self_signed(cert, key, NULL, 365, err);
        }
        if (rc)
            return rc;
        made = true;
    }
    if (!out)
        return 0;
    if (made)
        fprintf(out, "Created a self-signed certificate for localhost, 127.0.0.1, ::1%s%s "
                     "(valid 365 days):\n", *host ? " and " : "", host);
    else
        fprintf(out, "The lake already has a certificate (kept as it is):\n");
    fprintf(out,
            "  certificate  %s\n  key          %s (mode 0600)\n\n"
            "Serve HTTPS and PostgreSQL TLS with it:\n"
            "  tarn serve --data %s --tls-cert %s --tls-key %s\n\n"
            "Clients trust it as their CA bundle:\n"
            "  TARN_ENDPOINT=https://localhost:9470 TARN_CA_BUNDLE=%s tarn tables\n"
            "  AWS_CA_BUNDLE=%s aws --endpoint-url https://127.0.0.1:9470 s3 ls\n"
            "  psql \"sslmode=verify-full sslrootcert=%s host=localhost port=5470 dbname=lake "
            "user=admin\"\n",
            cert, key, data_dir, cert, key, cert, cert, cert);
    fflush(out);
    return 0;
}
