/*  =========================================================================
    channels - the `cairn` client's channel and member commands

    Rows of the shared command table (cli.h); cairn.c parses, sends,
    waits and reports for them as for every other row.

        command          request         answer
        ---------------  --------------  ---------------
        channel create   ChannelCreate   Channel
        channel verify   ChannelVerify   ChannelVerified
        channel get      ChannelGet      Channel
        channel list     ChannelList     ChannelPage
        channel touch    ChannelTouch    Channel
        channel delete   ChannelDelete   ChannelDeleted
        member join      MemberJoin      Membership
        member leave     MemberLeave     Membership
        member list      MemberList      MemberPage

    `channel list` and `member list` print a page at a time (--limit, --after
    the last item of the previous page, as `cairn ledger list`); a full page
    ends with "(more: --after X)", JSON adds "more" and "next_after".

    Passwords: a channel password comes from --password-file (one trailing
    newline stripped) or from a prompt on /dev/tty with echo off; never
    from an argument, an option value or the environment, so it shows in
    no process list or shell history. It lives only in the family's storage,
    which cairn.c wipes after the call, and in the packed frame, wiped once
    libzmq has its copy. Ctrl-C at the prompt restores the terminal's echo
    before the signal ends the process as usual.
    ========================================================================= */

#include "cli.h"

#include <assert.h>
#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

//  ---- the family's storage ---------------------------------------------------------

typedef struct {
    Cairn__ChannelCreate create;
    char password[CLI_PASSWORD_MAX + 1];
} channel_create_t;

typedef struct {
    Cairn__ChannelVerify verify;
    char password[CLI_PASSWORD_MAX + 1];
} channel_verify_t;

//  What one row's request points at.
typedef union {
    channel_create_t channel_create;
    channel_verify_t channel_verify;
    Cairn__ChannelGet channel_get;
    Cairn__ChannelList channel_list;
    Cairn__ChannelTouch channel_touch;
    Cairn__ChannelDelete channel_delete;
    Cairn__MemberJoin member_join;
    Cairn__MemberLeave member_leave;
    Cairn__MemberList member_list;
} channels_storage_t;

//  ---- passwords ----------------------------------------------------------------------------

//  One trailing newline ("\n" or "\r\n") off, then checks that `length`
//  bytes make a password the wire can carry.
static const char *s_finish_password(char *password, size_t *length, const char *source) {
    if (*length > 0 && password[*length - 1] == '\n')
        (*length)--;
    if (*length > 0 && password[*length - 1] == '\r')
        (*length)--;
    password[*length] = '\0';
    if (*length == 0)
        return cli_problem("the password from %s is empty", source);
    if (strlen(password) != *length)
        return cli_problem("the password from %s holds a NUL byte", source);
    return NULL;
}

static const char *s_password_from_file(const char *path, char *password) {
    size_t length = 0;
    const char *problem =
        cli_read_file(path, "password file", (uint8_t *)password, CLI_PASSWORD_MAX, &length);
    return problem ? problem : s_finish_password(password, &length, "the password file");
}

static volatile sig_atomic_t s_prompt_signal = 0;

static void s_on_prompt_signal(int signal_number) {
    s_prompt_signal = signal_number;
}

//  Signals that end a prompt; their handlers are swapped in and back.
static const int s_prompt_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
#define PROMPT_SIGNAL_COUNT (sizeof s_prompt_signals / sizeof s_prompt_signals[0])

static void s_catch_prompt_signals(struct sigaction *saved) {
    struct sigaction catch;
    memset(&catch, 0, sizeof catch);
    catch.sa_handler = s_on_prompt_signal; //  no SA_RESTART: read() returns EINTR
    sigemptyset(&catch.sa_mask);
    s_prompt_signal = 0;
    for (size_t i = 0; i < PROMPT_SIGNAL_COUNT; i++)
        sigaction(s_prompt_signals[i], &catch, &saved[i]);
}

static void s_restore_prompt_signals(const struct sigaction *saved) {
    for (size_t i = 0; i < PROMPT_SIGNAL_COUNT; i++)
        sigaction(s_prompt_signals[i], &saved[i], NULL);
}

//  Reads one line (with its newline) of at most `size` bytes from the tty.
static ssize_t s_read_line(int fd, char *buffer, size_t size) {
    size_t used = 0;
    while (used < size && (used == 0 || buffer[used - 1] != '\n')) {
        ssize_t got = read(fd, buffer + used, size - used);
        if (got < 0 && errno == EINTR && !s_prompt_signal)
            continue;
        if (got < 0)
            return -1;
        if (got == 0)
            break;
        used += (size_t)got;
    }
    return (ssize_t)used;
}

//  With echo off: shows the prompt, reads one line, restores `saved`.
//  Returns what s_read_line does; *error is its errno.
static ssize_t s_read_quietly(int fd, const struct termios *saved, const char *prompt,
                              char *password, int *error) {
    struct termios quiet = *saved;
    quiet.c_lflag &= ~(tcflag_t)ECHO;
    //  Echo off before the prompt shows: what is typed after it is never
    //  echoed, and TCSAFLUSH drops only what was typed before it.
    if (tcsetattr(fd, TCSAFLUSH, &quiet) != 0) {
        *error = errno;
        return -1;
    }
    ssize_t written = write(fd, prompt, strlen(prompt)); //  best effort, as the echo
    ssize_t got = s_read_line(fd, password, CLI_PASSWORD_MAX);
    *error = errno;
    if (got == CLI_PASSWORD_MAX && password[got - 1] != '\n')
        tcflush(fd, TCIFLUSH); //  drop the rest of an over-long line
    tcsetattr(fd, TCSANOW, saved);
    written = write(fd, "\n", 1); //  the newline the user typed was not echoed
    (void)written;
    return got;
}

//  Asks on the terminal with echo off. Ends the process the usual way
//  (after restoring the terminal) when Ctrl-C or another ending signal
//  comes in meanwhile.
static const char *s_prompt_password(const char *prompt, char *password) {
    int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return "no terminal to ask for the password on; use --password-file FILE";
    struct termios saved;
    if (tcgetattr(fd, &saved) != 0) {
        close(fd);
        return "cannot turn off the terminal's echo; use --password-file FILE";
    }
    struct sigaction handlers[PROMPT_SIGNAL_COUNT];
    s_catch_prompt_signals(handlers);
    int error = 0;
    ssize_t got = s_read_quietly(fd, &saved, prompt, password, &error);
    close(fd);
    s_restore_prompt_signals(handlers);
    if (s_prompt_signal) {
        sodium_memzero(password, CLI_PASSWORD_MAX + 1);
        raise(s_prompt_signal);
        return "interrupted at the password prompt";
    }
    if (got < 0)
        return cli_problem("cannot read the password from the terminal: %s; use "
                           "--password-file FILE",
                           strerror(error));
    if (got == CLI_PASSWORD_MAX && password[got - 1] != '\n')
        return cli_problem("the password is longer than %d bytes", CLI_PASSWORD_MAX);
    size_t length = (size_t)got;
    return s_finish_password(password, &length, "the terminal");
}

//  A new channel's password, typed twice.
static const char *s_prompt_new_password(const char *channel, char *password) {
    char *prompt = zsys_sprintf("Password for %s: ", channel);
    const char *problem = s_prompt_password(prompt, password);
    zstr_free(&prompt);
    if (problem)
        return problem;
    char *again = (char *)sodium_malloc(CLI_PASSWORD_MAX + 1);
    if (!again)
        return "out of memory for the password";
    problem = s_prompt_password("Repeat the password: ", again);
    if (!problem && (strlen(again) != strlen(password) ||
                     sodium_memcmp(again, password, strlen(password)) != 0))
        problem = "the two passwords differ; nothing was sent";
    sodium_free(again); //  wipes it
    return problem;
}

//  ---- channel create / verify ---------------------------------------------------------------

static const char *s_build_channel_create(const cli_t *cli, Cairn__Request *request,
                                          void *storage) {
    channels_storage_t *body = storage;
    channel_create_t *create = &body->channel_create;
    cairn__channel_create__init(&create->create);
    create->create.name = cli->args[0];
    create->create.encrypted = cli_option(cli, "encrypted") != NULL;
    create->create.unsigned_messages = cli_option(cli, "unsigned") != NULL;
    request->body_case = CAIRN__REQUEST__BODY_CHANNEL_CREATE;
    request->channel_create = &create->create;
    const char *file = cli_option(cli, "password-file");
    bool prompt = cli_option(cli, "password-prompt") != NULL;
    if (file && prompt)
        return "give --password-file or --password-prompt, not both";
    if (!file && !prompt)
        return NULL; //  no password: not protected
    const char *problem = file ? s_password_from_file(file, create->password)
                               : s_prompt_new_password(cli->args[0], create->password);
    create->create.password = create->password;
    return problem;
}

static void s_print_channel_flags(const Cairn__Channel *channel) {
    const char *flags[] = {channel->encrypted ? "encrypted" : NULL,
                           channel->protected_ ? "protected" : NULL,
                           channel->unsigned_messages ? "unsigned" : NULL};
    const char *separator = "";
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
        if (flags[i]) {
            printf("%s%s", separator, flags[i]);
            separator = ",";
        }
    if (!*separator)
        printf("-");
}

static void s_print_channel_create(const answer_t *answer) {
    const Cairn__Channel *channel = answer->response->channel_create;
    printf("created %s", channel->name);
    if (channel->encrypted || channel->protected_ || channel->unsigned_messages) {
        printf(" (");
        s_print_channel_flags(channel);
        printf(")");
    }
    printf("\n");
}

static json_t *s_json_channel(const Cairn__Channel *channel) {
    json_t *object =
        json_pack("{s:s, s:f, s:f, s:b, s:b, s:b, s:I}", "name", channel->name, "created_at",
                  channel->created_at, "last_activity", channel->last_activity, "encrypted",
                  channel->encrypted, "protected", channel->protected_, "unsigned_messages",
                  channel->unsigned_messages, "message_count", (json_int_t)channel->message_count);
    if (object)
        cli_json_set_hex(object, "salt", channel->salt);
    return object;
}

static json_t *s_json_channel_create(const answer_t *answer) {
    return s_json_channel(answer->response->channel_create);
}

static const char *s_build_channel_verify(const cli_t *cli, Cairn__Request *request,
                                          void *storage) {
    channels_storage_t *body = storage;
    channel_verify_t *verify = &body->channel_verify;
    cairn__channel_verify__init(&verify->verify);
    verify->verify.name = cli->args[0];
    verify->verify.password = verify->password;
    request->body_case = CAIRN__REQUEST__BODY_CHANNEL_VERIFY;
    request->channel_verify = &verify->verify;
    const char *file = cli_option(cli, "password-file");
    if (file)
        return s_password_from_file(file, verify->password);
    char *prompt = zsys_sprintf("Password for %s: ", cli->args[0]);
    const char *problem = s_prompt_password(prompt, verify->password);
    zstr_free(&prompt);
    return problem;
}

static void s_print_channel_verify(const answer_t *answer) {
    printf("password %s for %s\n", answer->response->channel_verify->ok ? "accepted" : "refused",
           answer->cli->args[0]);
}

static json_t *s_json_channel_verify(const answer_t *answer) {
    return json_pack("{s:s, s:b}", "name", answer->cli->args[0], "ok",
                     answer->response->channel_verify->ok);
}

//  ---- channel get / list / touch / delete -----------------------------------------------

static const char *s_build_channel_get(const cli_t *cli, Cairn__Request *request, void *storage) {
    channels_storage_t *body = storage;
    Cairn__ChannelGet *get = &body->channel_get;
    cairn__channel_get__init(get);
    get->name = cli->args[0];
    request->body_case = CAIRN__REQUEST__BODY_CHANNEL_GET;
    request->channel_get = get;
    return NULL;
}

static void s_print_channel(const Cairn__Channel *channel) {
    printf("channel %s\n", channel->name);
    cli_print_field_time("created", channel->created_at);
    cli_print_field_time("last activity", channel->last_activity);
    printf("  %-15s %s\n", "encrypted", channel->encrypted ? "yes" : "no");
    printf("  %-15s %s", "protected", channel->protected_ ? "yes, salt " : "no");
    if (channel->protected_)
        cli_print_hex(channel->salt);
    printf("\n  %-15s %s\n", "signed", channel->unsigned_messages ? "no (unsigned)" : "yes");
    printf("  %-15s %" PRIu64 "\n", "messages", channel->message_count);
}

static void s_print_channel_get(const answer_t *answer) {
    s_print_channel(answer->response->channel_get);
}

static json_t *s_json_channel_get(const answer_t *answer) {
    return s_json_channel(answer->response->channel_get);
}

//  --limit N when given (0 otherwise: the node's default); a limit above the
//  node's maximum is the node's to refuse.
static const char *s_option_limit(const cli_t *cli, uint32_t *limit) {
    const char *text = cli_option(cli, "limit");
    *limit = 0;
    return text ? cli_parse_u32(text, "--limit", 1, UINT32_MAX, limit) : NULL;
}

static const char *s_build_channel_list(const cli_t *cli, Cairn__Request *request, void *storage) {
    channels_storage_t *body = storage;
    cairn__channel_list__init(&body->channel_list);
    request->body_case = CAIRN__REQUEST__BODY_CHANNEL_LIST;
    request->channel_list = &body->channel_list;
    const char *after = cli_option(cli, "after");
    if (after)
        body->channel_list.after_name = (char *)after;
    return s_option_limit(cli, &body->channel_list.limit);
}

//  The name the next page starts after; only of a page with more.
static const char *s_channel_list_next(const Cairn__ChannelPage *page) {
    return page->n_channels ? page->channels[page->n_channels - 1]->name : "";
}

static void s_print_channel_list(const answer_t *answer) {
    const Cairn__ChannelPage *page = answer->response->channel_list;
    if (page->n_channels == 0 && !page->more) {
        printf("(no channels)\n");
        return;
    }
    printf("%-24s  %10s  %-24s  %s\n", "NAME", "MESSAGES", "LAST ACTIVITY", "FLAGS");
    for (size_t i = 0; i < page->n_channels; i++) {
        const Cairn__Channel *channel = page->channels[i];
        char time[CLI_TIME_TEXT];
        cli_format_time(channel->last_activity, time, sizeof time);
        printf("%-24s  %10" PRIu64 "  %-24s  ", channel->name, channel->message_count, time);
        s_print_channel_flags(channel);
        printf("\n");
    }
    if (page->more)
        printf("(more: --after %s)\n", s_channel_list_next(page));
}

static json_t *s_json_channel_list(const answer_t *answer) {
    const Cairn__ChannelPage *page = answer->response->channel_list;
    json_t *channels = json_array();
    for (size_t i = 0; i < page->n_channels; i++)
        if (!cli_json_append(channels, s_json_channel(page->channels[i]))) {
            json_decref(channels);
            return NULL;
        }
    json_t *object = json_pack("{s:o, s:b}", "channels", channels, "more", page->more);
    if (object && page->more)
        json_object_set_new(object, "next_after", json_string(s_channel_list_next(page)));
    return object;
}

static const char *s_build_channel_touch(const cli_t *cli, Cairn__Request *request, void *storage) {
    channels_storage_t *body = storage;
    Cairn__ChannelTouch *touch = &body->channel_touch;
    cairn__channel_touch__init(touch);
    touch->name = cli->args[0];
    request->body_case = CAIRN__REQUEST__BODY_CHANNEL_TOUCH;
    request->channel_touch = touch;
    const char *timestamp = cli_option(cli, "timestamp");
    return timestamp ? cli_parse_time(timestamp, "--timestamp", &touch->timestamp) : NULL;
}

static void s_print_channel_touch(const answer_t *answer) {
    const Cairn__Channel *channel = answer->response->channel_touch;
    char time[CLI_TIME_TEXT];
    cli_format_time(channel->last_activity, time, sizeof time);
    printf("touched %s: last activity %s\n", channel->name, time);
}

static json_t *s_json_channel_touch(const answer_t *answer) {
    return s_json_channel(answer->response->channel_touch);
}

static const char *s_build_channel_delete(const cli_t *cli, Cairn__Request *request,
                                          void *storage) {
    channels_storage_t *body = storage;
    Cairn__ChannelDelete *delete = &body->channel_delete;
    cairn__channel_delete__init(delete);
    delete->name = cli->args[0];
    request->body_case = CAIRN__REQUEST__BODY_CHANNEL_DELETE;
    request->channel_delete = delete;
    return NULL;
}

static void s_print_channel_delete(const answer_t *answer) {
    const Cairn__ChannelDeleted *deleted = answer->response->channel_delete;
    printf("deleted %s with %" PRIu64 " messages and %" PRIu64 " members\n", deleted->name,
           deleted->messages, deleted->members);
}

static json_t *s_json_channel_delete(const answer_t *answer) {
    const Cairn__ChannelDeleted *deleted = answer->response->channel_delete;
    return json_pack("{s:s, s:I, s:I}", "name", deleted->name, "messages",
                     (json_int_t)deleted->messages, "members", (json_int_t)deleted->members);
}

//  ---- member join / leave / list -----------------------------------------------------------

static const char *s_build_member_join(const cli_t *cli, Cairn__Request *request, void *storage) {
    channels_storage_t *body = storage;
    Cairn__MemberJoin *join = &body->member_join;
    cairn__member_join__init(join);
    join->channel = cli->args[0];
    join->peer_id = cli->args[1];
    request->body_case = CAIRN__REQUEST__BODY_MEMBER_JOIN;
    request->member_join = join;
    return NULL;
}

static void s_print_member_join(const answer_t *answer) {
    const Cairn__Membership *member = answer->response->member_join;
    printf("%s %s %s\n", member->peer_id, member->changed ? "joined" : "was already in",
           member->channel);
}

static json_t *s_json_membership(const Cairn__Membership *member) {
    return json_pack("{s:s, s:s, s:b}", "channel", member->channel, "peer_id", member->peer_id,
                     "changed", member->changed);
}

static json_t *s_json_member_join(const answer_t *answer) {
    return s_json_membership(answer->response->member_join);
}

static const char *s_build_member_leave(const cli_t *cli, Cairn__Request *request, void *storage) {
    channels_storage_t *body = storage;
    Cairn__MemberLeave *leave = &body->member_leave;
    cairn__member_leave__init(leave);
    leave->channel = cli->args[0];
    leave->peer_id = cli->args[1];
    request->body_case = CAIRN__REQUEST__BODY_MEMBER_LEAVE;
    request->member_leave = leave;
    return NULL;
}

static void s_print_member_leave(const answer_t *answer) {
    const Cairn__Membership *member = answer->response->member_leave;
    printf("%s %s %s\n", member->peer_id, member->changed ? "left" : "was not in", member->channel);
}

static json_t *s_json_member_leave(const answer_t *answer) {
    return s_json_membership(answer->response->member_leave);
}

static const char *s_build_member_list(const cli_t *cli, Cairn__Request *request, void *storage) {
    channels_storage_t *body = storage;
    Cairn__MemberList *list = &body->member_list;
    cairn__member_list__init(list);
    const char *channel = cli_option(cli, "channel"), *peer = cli_option(cli, "peer");
    request->body_case = CAIRN__REQUEST__BODY_MEMBER_LIST;
    request->member_list = list;
    if (!channel == !peer)
        return "member list needs exactly one of --channel C (its members) or --peer P "
               "(its channels)";
    if (channel)
        list->channel = (char *)channel;
    else
        list->peer_id = (char *)peer;
    const char *after = cli_option(cli, "after");
    if (after)
        list->after = (char *)after;
    return s_option_limit(cli, &list->limit);
}

//  The key the next page starts after (a peer id when listing a channel's
//  members, a channel when listing a peer's); only of a page with more.
static const char *s_member_list_next(const answer_t *answer) {
    const Cairn__MemberPage *page = answer->response->member_list;
    if (!page->n_members)
        return "";
    const Cairn__Membership *last = page->members[page->n_members - 1];
    const char *channel = answer->request->member_list->channel;
    return channel && *channel ? last->peer_id : last->channel;
}

static void s_print_member_list(const answer_t *answer) {
    const Cairn__MemberPage *page = answer->response->member_list;
    if (page->n_members == 0 && !page->more) {
        printf("(no members)\n");
        return;
    }
    printf("%-24s  %s\n", "CHANNEL", "PEER");
    for (size_t i = 0; i < page->n_members; i++)
        printf("%-24s  %s\n", page->members[i]->channel, page->members[i]->peer_id);
    if (page->more)
        printf("(more: --after %s)\n", s_member_list_next(answer));
}

static json_t *s_json_member_list(const answer_t *answer) {
    const Cairn__MemberPage *page = answer->response->member_list;
    json_t *members = json_array();
    for (size_t i = 0; i < page->n_members; i++) {
        const Cairn__Membership *member = page->members[i];
        if (!cli_json_append(members, json_pack("{s:s, s:s}", "channel", member->channel, "peer_id",
                                                member->peer_id))) {
            json_decref(members);
            return NULL;
        }
    }
    json_t *object = json_pack("{s:o, s:b}", "members", members, "more", page->more);
    if (object && page->more)
        json_object_set_new(object, "next_after", json_string(s_member_list_next(answer)));
    return object;
}

//  ---- details for `cairn COMMAND --help` ------------------------------------------------------

static const char s_password_details[] =
    "A password is never an argument or an option value. --password-file FILE\n"
    "reads it from FILE (one trailing newline is dropped); otherwise it is asked\n"
    "for on the terminal with echo off (create: --password-prompt, asked twice).\n"
    "The node keeps only an Argon2id hash. A wrong password exits 1 with\n"
    "\"cairn: unauthorized: ...\".\n"
    "create --unsigned: the channel's messages need no valid signature (by default\n"
    "each must be signed by its sender, a known peer: see cairn msg send --help).\n";

//  ---- the table ---------------------------------------------------------------------------------

static const command_t s_rows[] = {
    {"channel",
     "create",
     1,
     "NAME",
     "create channel NAME (#name), optionally password-protected",
     {{"encrypted", NULL, false},
      {"unsigned", NULL, false},
      {"password-file", "FILE", false},
      {"password-prompt", NULL, false}},
     s_build_channel_create,
     s_print_channel_create,
     s_json_channel_create,
     s_password_details,
     NULL,
     {CAIRN__REQUEST__BODY_CHANNEL_CREATE}},
    {"channel",
     "verify",
     1,
     "NAME",
     "check a channel's password (file, else terminal prompt)",
     {{"password-file", "FILE", false}},
     s_build_channel_verify,
     s_print_channel_verify,
     s_json_channel_verify,
     s_password_details,
     NULL,
     {CAIRN__REQUEST__BODY_CHANNEL_VERIFY}},
    {"channel",
     "get",
     1,
     "NAME",
     "print one channel with its message count",
     {{NULL, NULL, false}},
     s_build_channel_get,
     s_print_channel_get,
     s_json_channel_get,
     NULL,
     NULL,
     {CAIRN__REQUEST__BODY_CHANNEL_GET}},
    {"channel",
     "list",
     0,
     "",
     "channels by name, one per line, a page at a time",
     {{"limit", "N", false}, {"after", "NAME", false}},
     s_build_channel_list,
     s_print_channel_list,
     s_json_channel_list,
     NULL,
     NULL,
     {CAIRN__REQUEST__BODY_CHANNEL_LIST}},
    {"channel",
     "touch",
     1,
     "NAME",
     "set the channel's last activity to T (default now)",
     {{"timestamp", "T", false}},
     s_build_channel_touch,
     s_print_channel_touch,
     s_json_channel_touch,
     NULL,
     NULL,
     {CAIRN__REQUEST__BODY_CHANNEL_TOUCH}},
    {"channel",
     "delete",
     1,
     "NAME",
     "delete a channel with its messages and memberships",
     {{NULL, NULL, false}},
     s_build_channel_delete,
     s_print_channel_delete,
     s_json_channel_delete,
     NULL,
     NULL,
     {CAIRN__REQUEST__BODY_CHANNEL_DELETE}},
    {"member",
     "join",
     2,
     "CHANNEL PEER_ID",
     "make PEER_ID a member of CHANNEL (twice is fine)",
     {{NULL, NULL, false}},
     s_build_member_join,
     s_print_member_join,
     s_json_member_join,
     NULL,
     NULL,
     {CAIRN__REQUEST__BODY_MEMBER_JOIN}},
    {"member",
     "leave",
     2,
     "CHANNEL PEER_ID",
     "end PEER_ID's membership of CHANNEL",
     {{NULL, NULL, false}},
     s_build_member_leave,
     s_print_member_leave,
     s_json_member_leave,
     NULL,
     NULL,
     {CAIRN__REQUEST__BODY_MEMBER_LEAVE}},
    {"member",
     "list",
     0,
     "",
     "members of --channel C, or channels of --peer P, a page at a time",
     {{"channel", "C", false},
      {"peer", "P", false},
      {"limit", "N", false},
      {"after", "KEY", false}},
     s_build_member_list,
     s_print_member_list,
     s_json_member_list,
     NULL,
     NULL,
     {CAIRN__REQUEST__BODY_MEMBER_LIST}},
};

CLI_FAMILY(channels, s_rows, channels_storage_t);
