/*  =========================================================================
    ca_curve - CURVE authentication of an endpoint: server key, allow-list,
    ZAP handler

    See ca_curve.h for the files and the reload rule. Why a ZAP handler of
    our own rather than CZMQ's zauth: zauth's CURVE mode reads a directory
    of certificate files, not one list, and its custom loaders are draft
    API, absent from Debian's CZMQ 4.2.1. The ZAP protocol (RFC 27) is six
    frames in and six out on a REP socket; the handler is that, a table of
    domains, and a file check per handshake (a stat, which costs nothing
    beside the handshake's own curve25519 work).

    ZAP request frames: version "1.0", request id, domain, address, routing
    id, mechanism, then the credentials (for CURVE: the client's 32-byte
    public key). Reply: version, request id, "200" or "400", status text,
    user id (the key in Z85), metadata (empty).
    ========================================================================= */

#include "ca_curve.h"
#include "ca_log.h"
#include "ca_store.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <sodium.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *ca_curve_path(const char *data_dir, const char *name) {
    return zsys_sprintf("%s/%s/%s", data_dir, CA_CURVE_DIR, name);
}

bool ca_curve_endpoint_is_local(const char *endpoint) {
    if (strncmp(endpoint, "ipc://", 6) == 0 || strncmp(endpoint, "inproc://", 9) == 0)
        return true;
    if (strncmp(endpoint, "tcp://", 6) != 0)
        return false;
    const char *host = endpoint + 6;
    const char *colon = strrchr(host, ':');
    size_t length = colon ? (size_t)(colon - host) : 0;
    char name[256];
    if (length == 0 || length >= sizeof name)
        return false;
    memcpy(name, host, length);
    name[length] = 0;
    if (length > 2 && name[0] == '[' && name[length - 1] == ']') {
        memmove(name, name + 1, length - 2);
        name[length - 2] = 0;
    }
    struct in_addr v4;
    struct in6_addr v6;
    if (inet_pton(AF_INET, name, &v4) == 1)
        return (ntohl(v4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, name, &v6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&v6);
    return streq(name, "localhost") || streq(name, "lo");
}

int ca_curve_dir_create(const char *data_dir, char **error) {
    char *dir = zsys_sprintf("%s/%s", data_dir, CA_CURVE_DIR);
    int rc = 0;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        *error = zsys_sprintf("cannot create %s: %s", dir, strerror(errno));
        rc = -1;
    }
    zstr_free(&dir);
    return rc;
}

int ca_curve_server_key(const char *data_dir, ca_curve_key_t *key, bool *created, char **error) {
    *created = false;
    char *path = ca_curve_path(data_dir, CA_CURVE_SERVER_KEY);
    int rc = 0;
    if (ca_curve_dir_create(data_dir, error) != 0)
        rc = -1;
    else if (!zsys_file_exists(path)) {
        ca_curve_key_generate(key);
        rc = ca_curve_key_save(key, path, error);
        *created = rc == 0;
        if (rc != 0)
            ca_curve_key_wipe(key);
    } else
        rc = ca_curve_key_load(path, key, error);
    zstr_free(&path);
    return rc;
}

void ca_curve_apply_server(const ca_curve_key_t *key, const char *domain, zsock_t *socket) {
    zsock_set_zap_domain(socket, domain);
    zsock_set_curve_server(socket, 1);
    zsock_set_curve_publickey_bin(socket, key->public_key);
    zsock_set_curve_secretkey_bin(socket, key->secret_key);
}

//  ---- the allow-list ------------------------------------------------------------

struct _ca_curve_allow_t {
    char *path;
    zhashx_t *keys; //  Z85 text -> (unused)
    bool read;      //  read at least once
    struct stat seen;
    bool missing;
};

ca_curve_allow_t *ca_curve_allow_new(const char *path) {
    ca_curve_allow_t *self = (ca_curve_allow_t *)zmalloc(sizeof(ca_curve_allow_t));
    self->path = strdup(path);
    self->keys = zhashx_new();
    return self;
}

void ca_curve_allow_destroy(ca_curve_allow_t **self_p) {
    ca_curve_allow_t *self = *self_p;
    if (!self)
        return;
    zhashx_destroy(&self->keys);
    zstr_free(&self->path);
    free(self);
    *self_p = NULL;
}

static bool s_same_file(const struct stat *a, const struct stat *b) {
    return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
           a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

//  Adds the key a line starts with; false when the line holds text but no
//  key. Z85 has '#' among its characters (never first: a key's first
//  character is one of the alphabet's first 83), so the first word is tried
//  as a key before a leading '#' makes the line a comment.
static bool s_read_line(ca_curve_allow_t *self, char *line) {
    char *word = line + strspn(line, " \t\r\n");
    word[strcspn(word, " \t\r\n")] = 0;
    uint8_t key[CA_CURVE_KEY_BYTES];
    if (ca_curve_public_parse(word, key) != 0)
        return !*word || *word == '#';
    if (zhashx_size(self->keys) >= CA_CURVE_MAX_KEYS)
        return false;
    char z85[CA_CURVE_Z85_SIZE];
    ca_curve_z85(key, z85);
    zhashx_update(self->keys, z85, (void *)1);
    return true;
}

static void s_reload(ca_curve_allow_t *self, const struct stat *now) {
    zhashx_purge(self->keys);
    self->seen = *now;
    self->read = true;
    if (now->st_size > CA_CURVE_MAX_LIST_BYTES) {
        ca_log_error("curve: %s is over %d bytes; nobody is allowed until it is shorter",
                     self->path, CA_CURVE_MAX_LIST_BYTES);
        return;
    }
    FILE *file = fopen(self->path, "r");
    if (!file) {
        ca_log_error("curve: cannot read %s (%s); nobody is allowed until it can be read",
                     self->path, strerror(errno));
        return;
    }
    char line[1024];
    size_t number = 0, skipped = 0;
    while (fgets(line, sizeof line, file)) {
        number++;
        bool whole = strchr(line, '\n') || feof(file);
        bool ok = s_read_line(self, line);
        //  The rest of an over-long line is text, never a key of its own.
        while (!whole && fgets(line, sizeof line, file))
            whole = strchr(line, '\n') || feof(file);
        if (!ok) {
            skipped++;
            ca_log_warning("curve: %s line %zu is not a public key (40 Z85 characters or 64 "
                           "hex digits)%s; skipped",
                           self->path, number,
                           zhashx_size(self->keys) >= CA_CURVE_MAX_KEYS ? " or over the limit"
                                                                        : "");
        }
    }
    fclose(file);
    ca_log_info("curve: allow-list %s read: %zu key(s)%s", self->path, zhashx_size(self->keys),
                skipped ? ", some lines skipped" : "");
}

bool ca_curve_allow_check(ca_curve_allow_t *self, const uint8_t key[CA_CURVE_KEY_BYTES]) {
    struct stat now;
    if (stat(self->path, &now) != 0) {
        if (!self->missing || !self->read)
            ca_log_warning("curve: allow-list %s is missing; nobody is allowed", self->path);
        zhashx_purge(self->keys);
        self->missing = true;
        self->read = true;
        memset(&self->seen, 0, sizeof self->seen);
        return false;
    }
    if (!self->read || self->missing || !s_same_file(&now, &self->seen))
        s_reload(self, &now);
    self->missing = false;
    char z85[CA_CURVE_Z85_SIZE];
    ca_curve_z85(key, z85);
    return zhashx_lookup(self->keys, z85) != NULL;
}

size_t ca_curve_allow_size(ca_curve_allow_t *self) {
    return zhashx_size(self->keys);
}

//  ---- the ZAP handler -----------------------------------------------------------

typedef struct {
    char *domain;
    ca_curve_allow_t *allow; //  NULL with admit
    ca_curve_admit_fn *admit;
    void *admit_state;
} domain_t;

typedef struct {
    zsock_t *pipe;
    zsock_t *handler; //  REP on CA_CURVE_ZAP_ENDPOINT
    zpoller_t *poller;
    domain_t *domains;
    size_t count;
    bool terminated;
    int64_t denial_logged_at; //  denials are logged at most once a second
    uint64_t denials_unlogged;
} zap_t;

static zap_t *s_zap_new(zsock_t *pipe, const ca_curve_zap_config_t *config) {
    zap_t *self = (zap_t *)zmalloc(sizeof(zap_t));
    self->pipe = pipe;
    self->poller = zpoller_new(pipe, NULL);
    self->count = config->count;
    self->domains = (domain_t *)zmalloc((config->count ? config->count : 1) * sizeof(domain_t));
    for (size_t i = 0; i < config->count; i++) {
        self->domains[i].domain = strdup(config->domains[i].domain);
        self->domains[i].admit = config->domains[i].admit;
        self->domains[i].admit_state = config->domains[i].admit_state;
        if (!self->domains[i].admit)
            self->domains[i].allow = ca_curve_allow_new(config->domains[i].allow_path);
    }
    return self;
}

static void s_zap_destroy(zap_t **self_p) {
    zap_t *self = *self_p;
    for (size_t i = 0; i < self->count; i++) {
        zstr_free(&self->domains[i].domain);
        ca_curve_allow_destroy(&self->domains[i].allow);
    }
    free(self->domains);
    zpoller_destroy(&self->poller);
    //  Free the inproc name at once (see writer.c): a handler started right
    //  after this one (the self-test does) must be able to bind it.
    if (self->handler)
        zsock_unbind(self->handler, "%s", CA_CURVE_ZAP_ENDPOINT);
    zsock_destroy(&self->handler);
    free(self);
    *self_p = NULL;
}

static char *s_zap_start(zap_t *self) {
    self->handler = zsock_new(ZMQ_REP);
    if (!self->handler || zsock_bind(self->handler, CA_CURVE_ZAP_ENDPOINT) != 0)
        return zsys_sprintf("cannot bind the ZAP handler %s: %s", CA_CURVE_ZAP_ENDPOINT,
                            zmq_strerror(zmq_errno()));
    zpoller_add(self->poller, self->handler);
    return NULL;
}

static void s_zap_log_denial(zap_t *self, const char *domain, const char *address,
                             const char *who) {
    int64_t now = zclock_mono();
    if (now - self->denial_logged_at < 1000) {
        self->denials_unlogged++;
        return;
    }
    ca_log_notice("curve: refused %s (client key %s) on domain '%s': not on its allow-list "
                  "(%" PRIu64 " more refused since the last such line)",
                  address, who, domain, self->denials_unlogged);
    self->denial_logged_at = now;
    self->denials_unlogged = 0;
}

//  Decides one ZAP request. Every request gets a reply, even a malformed
//  one (only libzmq sends here): a REP socket that skipped a reply could
//  take no further request, and every later handshake would hang.
static void s_zap_handle(zap_t *self) {
    zmsg_t *request = zmsg_recv(self->handler);
    if (!request)
        return;
    char *version = zmsg_popstr(request);
    zframe_t *request_id = zmsg_pop(request);
    char *domain = zmsg_popstr(request);
    char *address = zmsg_popstr(request);
    zframe_t *routing_id = zmsg_pop(request);
    char *mechanism = zmsg_popstr(request);
    zframe_t *credentials = zmsg_pop(request);
    const char *status = "400", *text = "not allowed";
    char who[CA_CURVE_Z85_SIZE] = "";
    if (!version || !request_id || !domain || !address || !mechanism || !streq(version, "1.0")) {
        status = "500";
        text = "malformed ZAP request";
        ca_log_error("curve: a malformed ZAP request was refused");
    } else {
        domain_t *known = NULL;
        for (size_t i = 0; i < self->count && !known; i++)
            if (streq(self->domains[i].domain, domain))
                known = &self->domains[i];
        if (!known)
            text = "unknown ZAP domain";
        else if (!streq(mechanism, "CURVE") || !credentials ||
                 zframe_size(credentials) != CA_CURVE_KEY_BYTES)
            text = "CURVE required";
        else {
            ca_curve_z85(zframe_data(credentials), who);
            bool admitted = known->admit
                                ? known->admit(known->admit_state, zframe_data(credentials))
                                : ca_curve_allow_check(known->allow, zframe_data(credentials));
            if (admitted) {
                status = "200";
                text = "OK";
            } else
                s_zap_log_denial(self, domain, address, who);
        }
    }
    zmsg_t *reply = zmsg_new();
    zmsg_addstr(reply, "1.0");
    if (request_id)
        zmsg_append(reply, &request_id);
    else
        zmsg_addmem(reply, NULL, 0);
    zmsg_addstr(reply, status);
    zmsg_addstr(reply, text);
    zmsg_addstr(reply, streq(status, "200") ? who : "");
    zmsg_addmem(reply, NULL, 0);
    zmsg_send(&reply, self->handler);
    zstr_free(&version);
    zframe_destroy(&request_id);
    zstr_free(&domain);
    zstr_free(&address);
    zframe_destroy(&routing_id);
    zstr_free(&mechanism);
    zframe_destroy(&credentials);
    zmsg_destroy(&request);
}

static void s_zap_handle_pipe(zap_t *self) {
    char *command = zstr_recv(self->pipe);
    if (!command || streq(command, "$TERM"))
        self->terminated = true;
    else if (streq(command, "START")) {
        char *error = s_zap_start(self);
        ca_actor_reply_start(self->pipe, error);
        zstr_free(&error);
    } else
        ca_log_error("curve: unknown pipe command '%s'", command);
    zstr_free(&command);
}

void ca_curve_zap_actor(zsock_t *pipe, void *args) {
    zap_t *self = s_zap_new(pipe, (const ca_curve_zap_config_t *)args);
    zsock_signal(pipe, 0);
    while (!self->terminated) {
        void *which = zpoller_wait(self->poller, -1);
        if (which == pipe)
            s_zap_handle_pipe(self);
        else if (self->handler && which == self->handler)
            s_zap_handle(self);
        else if (!which && ca_actor_poll_failed(self->poller))
            break;
    }
    s_zap_destroy(&self);
}

//  ---- self-test -------------------------------------------------------------------

#include "ca_testbed.h"

#define TEST_ANSWER_MS  5000 //  an allowed client's answer comes at once
#define TEST_SILENCE_MS 500  //  a refused one's never does

static void s_write_list(const char *path, const char *text) {
    FILE *file = fopen(path, "w");
    assert(file);
    fputs(text, file);
    fclose(file);
}

//  An admit function: only the key pair `state` points at.
static bool s_test_admit(void *state, const uint8_t key[CA_CURVE_KEY_BYTES]) {
    return memcmp(((const ca_curve_key_t *)state)->public_key, key, CA_CURVE_KEY_BYTES) == 0;
}

//  Whether a DEALER with `key` (NULL: no CURVE) reaches the echoing server.
//  `expected` only sets how long to wait: an answer comes at once, silence
//  is waited out.
static bool s_reaches(const char *endpoint, const ca_curve_key_t *key,
                      const uint8_t server_public[CA_CURVE_KEY_BYTES], zsock_t *server,
                      bool expected) {
    zsock_t *client = zsock_new(ZMQ_DEALER);
    zsock_set_linger(client, 0);
    if (key)
        ca_curve_key_apply_client(key, server_public, client);
    zsock_connect(client, "%s", endpoint);
    zstr_send(client, "hello");
    //  The server echoes what it gets, so one round trip says whether
    //  the handshake went through.
    zpoller_t *poller = zpoller_new(server, client, NULL);
    int64_t deadline = zclock_mono() + (expected ? TEST_ANSWER_MS : TEST_SILENCE_MS);
    bool answered = false;
    while (!answered && zclock_mono() < deadline) {
        void *which = zpoller_wait(poller, (int)(deadline - zclock_mono()));
        if (which == server) {
            zmsg_t *msg = zmsg_recv(server);
            zmsg_send(&msg, server);
        } else if (which == client) {
            char *text = zstr_recv(client);
            answered = text && streq(text, "hello");
            zstr_free(&text);
        }
    }
    zpoller_destroy(&poller);
    zsock_destroy(&client);
    return answered;
}

void ca_curve_test(bool verbose) {
    if (verbose)
        printf(" * ca_curve: ");
    assert(sodium_init() >= 0);
    //  Which endpoints are local.
    assert(ca_curve_endpoint_is_local("tcp://127.0.0.1:7401"));
    assert(ca_curve_endpoint_is_local("tcp://127.1.2.3:7401"));
    assert(ca_curve_endpoint_is_local("tcp://localhost:7401"));
    assert(ca_curve_endpoint_is_local("tcp://[::1]:7401"));
    assert(ca_curve_endpoint_is_local("ipc:///tmp/cairn"));
    assert(ca_curve_endpoint_is_local("inproc://cairn"));
    assert(!ca_curve_endpoint_is_local("tcp://*:7401"));
    assert(!ca_curve_endpoint_is_local("tcp://0.0.0.0:7401"));
    assert(!ca_curve_endpoint_is_local("tcp://192.168.1.2:7401"));
    assert(!ca_curve_endpoint_is_local("tcp://[::]:7401"));
    assert(!ca_curve_endpoint_is_local("tcp://eth0:7401"));
    assert(!ca_curve_endpoint_is_local("tcp://128.0.0.1:7401"));
    assert(!ca_curve_endpoint_is_local("tcp://7401"));
    assert(!ca_curve_endpoint_is_local("ws://127.0.0.1:7401"));

    //  The server key is made once, private, and read back the same.
    char *dir = ca_test_tempdir("cairn-curve");
    ca_curve_key_t server, again;
    bool created = false;
    char *error = NULL;
    assert(ca_curve_server_key(dir, &server, &created, &error) == 0 && created);
    assert(ca_curve_server_key(dir, &again, &created, &error) == 0 && !created);
    assert(memcmp(&server, &again, sizeof server) == 0);
    char *path = ca_curve_path(dir, CA_CURVE_SERVER_KEY);
    struct stat st;
    assert(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    zstr_free(&path);
    char *curve_dir = zsys_sprintf("%s/%s", dir, CA_CURVE_DIR);
    assert(stat(curve_dir, &st) == 0 && (st.st_mode & 0777) == 0700);
    zstr_free(&curve_dir);

    //  The allow-list: Z85 or hex, comments, bad lines skipped, reloads.
    ca_curve_key_t alice, bob;
    ca_curve_key_generate(&alice);
    ca_curve_key_generate(&bob);
    char alice_z85[CA_CURVE_Z85_SIZE], bob_hex[65];
    ca_curve_z85(alice.public_key, alice_z85);
    for (int i = 0; i < 32; i++)
        snprintf(bob_hex + 2 * i, 3, "%02X", bob.public_key[i]);
    char *list_path = ca_curve_path(dir, CA_CURVE_CLIENTS);
    ca_curve_allow_t *allow = ca_curve_allow_new(list_path);
    assert(!ca_curve_allow_check(allow, alice.public_key)); //  missing: nobody
    char *text = zsys_sprintf("# clients\n\n  %s   alice's laptop\nnot-a-key\n#%s\n", alice_z85,
                              "a comment as long as a Z85 key, or longer");
    s_write_list(list_path, text);
    zstr_free(&text);
    assert(ca_curve_allow_check(allow, alice.public_key));
    assert(!ca_curve_allow_check(allow, bob.public_key));
    assert(ca_curve_allow_size(allow) == 1);
    text = zsys_sprintf("%s\n%s # bob\n", alice_z85, bob_hex);
    s_write_list(list_path, text);
    zstr_free(&text);
    assert(ca_curve_allow_check(allow, bob.public_key));
    assert(ca_curve_allow_size(allow) == 2);
    //  A Z85 key with a '#' in it is a key, not a key and a comment.
    ca_curve_key_t hashed;
    char hashed_z85[CA_CURVE_Z85_SIZE] = "";
    for (int tries = 0; tries < 10000 && !strchr(hashed_z85, '#'); tries++) {
        ca_curve_key_generate(&hashed);
        ca_curve_z85(hashed.public_key, hashed_z85);
    }
    assert(strchr(hashed_z85, '#'));
    text = zsys_sprintf("%s comment\n", hashed_z85);
    s_write_list(list_path, text);
    zstr_free(&text);
    assert(ca_curve_allow_check(allow, hashed.public_key));
    assert(!ca_curve_allow_check(allow, alice.public_key));
    unlink(list_path);
    assert(!ca_curve_allow_check(allow, alice.public_key));
    ca_curve_allow_destroy(&allow);
    ca_curve_allow_destroy(&allow);

    //  Through ZAP: a listed key gets in; no key, an unlisted key and a
    //  wrong server key do not; a key added at run time gets in next time.
    text = zsys_sprintf("%s\n", alice_z85);
    s_write_list(list_path, text);
    zstr_free(&text);
    ca_curve_domain_t domains[] = {{CA_CURVE_CLIENT_DOMAIN, list_path, NULL, NULL}};
    ca_curve_zap_config_t config = {domains, 1};
    zactor_t *zap = zactor_new(ca_curve_zap_actor, &config);
    assert(ca_actor_start(zap, &error) == 0);
    //  Only one handler per context.
    zactor_t *second = zactor_new(ca_curve_zap_actor, &config);
    assert(ca_actor_start(second, &error) == -1 && strstr(error, "ZAP"));
    zstr_free(&error);
    zactor_destroy(&second);

    //  A malformed request is answered too, and the handler goes on.
    zsock_t *raw = zsock_new_req(CA_CURVE_ZAP_ENDPOINT);
    zsock_set_rcvtimeo(raw, TEST_ANSWER_MS);
    zstr_send(raw, "2.0");
    zmsg_t *answer = zmsg_recv(raw);
    assert(answer && zmsg_size(answer) == 6);
    zmsg_first(answer);
    zmsg_next(answer);
    assert(zframe_streq(zmsg_next(answer), "500"));
    zmsg_destroy(&answer);
    zsock_destroy(&raw);

    zsock_t *echo = zsock_new(ZMQ_ROUTER);
    ca_curve_apply_server(&server, CA_CURVE_CLIENT_DOMAIN, echo);
    assert(zsock_bind(echo, "tcp://127.0.0.1:*") > 0);
    char *endpoint = zsock_last_endpoint(echo);
    ca_curve_key_t stranger;
    ca_curve_key_generate(&stranger);
    assert(s_reaches(endpoint, &alice, server.public_key, echo, true));
    assert(!s_reaches(endpoint, NULL, NULL, echo, false));
    assert(!s_reaches(endpoint, &bob, server.public_key, echo, false));
    assert(!s_reaches(endpoint, &alice, stranger.public_key, echo, false));
    FILE *file = fopen(list_path, "a");
    fprintf(file, "%s\n", bob_hex);
    fclose(file);
    assert(s_reaches(endpoint, &bob, server.public_key, echo, true));
    zstr_free(&endpoint);
    zsock_destroy(&echo);

    //  A domain decided by code: its function sees the client's key.
    echo = zsock_new(ZMQ_ROUTER);
    ca_curve_apply_server(&server, "coded", echo);
    assert(zsock_bind(echo, "tcp://127.0.0.1:*") > 0);
    endpoint = zsock_last_endpoint(echo);
    zactor_destroy(&zap);
    ca_curve_domain_t coded[] = {{"coded", NULL, s_test_admit, &bob}};
    ca_curve_zap_config_t coded_config = {coded, 1};
    zap = zactor_new(ca_curve_zap_actor, &coded_config);
    assert(ca_actor_start(zap, &error) == 0);
    assert(s_reaches(endpoint, &bob, server.public_key, echo, true));
    assert(!s_reaches(endpoint, &alice, server.public_key, echo, false));
    zstr_free(&endpoint);
    zsock_destroy(&echo);

    //  A socket of a domain the handler does not know is refused.
    echo = zsock_new(ZMQ_ROUTER);
    ca_curve_apply_server(&server, "elsewhere", echo);
    assert(zsock_bind(echo, "tcp://127.0.0.1:*") > 0);
    endpoint = zsock_last_endpoint(echo);
    assert(!s_reaches(endpoint, &alice, server.public_key, echo, false));
    zstr_free(&endpoint);
    zsock_destroy(&echo);
    zactor_destroy(&zap);

    zstr_free(&list_path);
    ca_test_rmtree(dir);
    zstr_free(&dir);
    ca_curve_key_wipe(&server);
    if (verbose)
        printf("OK\n");
}
