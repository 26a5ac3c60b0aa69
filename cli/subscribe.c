/*  =========================================================================
    subscribe - the loop of `cairn msg subscribe`, `cairn oplog subscribe`
    and `cairn content subscribe`

    The subscribe request is built by the row; this sends it, prints each
    pushed item through the row's function until --count items, Ctrl-C or
    the end, acknowledges each push (and every third of the lease while
    quiet), then unsubscribes and prints the cursor to resume from. Every
    kind of push has the same head (ca_push.h).
    ========================================================================= */

#include "ca_push.h"
#include "ca_status.h"
#include "cli.h"

#include <czmq.h>
#include <inttypes.h>
#include <stdio.h>

//  Sends an acknowledgement of `cursor` (renews the lease, opens credit).
static int s_ack(cli_conn_t *conn, uint64_t subscription, uint64_t cursor) {
    Cairn__MessageSubscribeAck ack = CAIRN__MESSAGE_SUBSCRIBE_ACK__INIT;
    ack.subscription_id = subscription;
    ack.cursor = cursor;
    Cairn__Request request = CAIRN__REQUEST__INIT;
    request.body_case = CAIRN__REQUEST__BODY_MESSAGE_SUBSCRIBE_ACK;
    request.message_subscribe_ack = &ack;
    return cli_send(conn, &request);
}

const char *cli_subscribe_from(const cli_t *cli, const char *option, uint64_t *after,
                               protobuf_c_boolean *from_now) {
    char flag[32];
    snprintf(flag, sizeof flag, "--%s", option);
    const char *cursor = cli_option(cli, option);
    const char *problem = NULL;
    if (cursor)
        problem = cli_parse_u64(cursor, flag, 0, UINT64_MAX, after);
    *from_now = !cursor;
    uint64_t count = 0;
    if (!problem && cli_option(cli, "count"))
        problem = cli_parse_u64(cli_option(cli, "count"), "--count", 1, UINT64_MAX, &count);
    return problem;
}

int cli_subscribe_run(const cli_t *cli, Cairn__Request *request, cli_conn_t *conn,
                      const char *resume, cli_push_item_fn print) {
    uint64_t count = 0, seen = 0;
    if (cli_option(cli, "count"))
        cli_parse_u64(cli_option(cli, "count"), "--count", 1, UINT64_MAX, &count);
    Cairn__Response *response = NULL;
    int exit_code = cli_request(conn, request, &response);
    if (exit_code)
        return exit_code;
    ca_push_head_t head;
    if (!ca_push_head(response, &head)) {
        cairn__response__free_unpacked(response, NULL);
        return cli_report_error(cli, ca_status_str(CA_INTERNAL), "the answer is not a push",
                                CLI_EXIT_NODE_ERROR);
    }
    uint64_t subscription = head.subscription_id;
    uint64_t cursor = head.cursor;
    uint64_t pushes_id = request->id;
    cairn__response__free_unpacked(response, NULL);
    int64_t heard = zclock_mono(), heartbeat = heard + CLI_SUBSCRIBE_LEASE_MS / 3;
    char reason[400] = "";
    while (!zsys_interrupted && !exit_code && (count == 0 || seen < count)) {
        int got = cli_await_next(conn, heartbeat, &response);
        int64_t now = zclock_mono();
        if (got < 0)
            return cli_report_error(cli, ca_status_str(CA_INTERNAL),
                                    "an answer is not a cairn.Response", CLI_EXIT_NODE_ERROR);
        if (got > 0) {
            heard = now;
            if (response->status != CAIRN__STATUS__OK) {
                snprintf(reason, sizeof reason, "%s: %s (resume with %s %" PRIu64 ")",
                         ca_status_str((ca_status_t)response->status), response->error, resume,
                         cursor);
                exit_code = CLI_EXIT_NODE_ERROR;
            } else if (response->id == pushes_id && ca_push_head(response, &head)) {
                if (head.after != cursor && !head.ended) { //  a push was lost
                    snprintf(reason, sizeof reason,
                             "a push was lost on the way; resume with %s %" PRIu64, resume, cursor);
                    exit_code = CLI_EXIT_NODE_ERROR;
                    cairn__response__free_unpacked(response, NULL);
                    break;
                }
                for (size_t i = 0; i < head.items && (count == 0 || seen < count); i++) {
                    cursor = print(cli, response, i);
                    fflush(stdout);
                    seen++;
                }
                if (head.ended) {
                    snprintf(reason, sizeof reason, "the subscription ended: %s", head.reason);
                    exit_code = CLI_EXIT_NODE_ERROR;
                } else if (head.items && (count == 0 || seen < count)) {
                    exit_code = s_ack(conn, subscription, head.cursor);
                    heartbeat = now + CLI_SUBSCRIBE_LEASE_MS / 3;
                }
            }
            cairn__response__free_unpacked(response, NULL);
        } else if (now - heard > CLI_SUBSCRIBE_LEASE_MS + cli->timeout_ms) {
            snprintf(reason, sizeof reason,
                     "no answer from the node for %d ms; resume with %s %" PRIu64,
                     CLI_SUBSCRIBE_LEASE_MS + cli->timeout_ms, resume, cursor);
            return cli_report_error(cli, "UNREACHABLE", reason, CLI_EXIT_UNREACHABLE);
        }
        if (!exit_code && now >= heartbeat) {
            exit_code = s_ack(conn, subscription, cursor);
            heartbeat = now + CLI_SUBSCRIBE_LEASE_MS / 3;
        }
    }
    if (*reason)
        return cli_report_error(cli, "ENDED", reason, CLI_EXIT_NODE_ERROR);
    Cairn__MessageUnsubscribe unsubscribe = CAIRN__MESSAGE_UNSUBSCRIBE__INIT;
    unsubscribe.subscription_id = subscription;
    Cairn__Request stop = CAIRN__REQUEST__INIT;
    stop.body_case = CAIRN__REQUEST__BODY_MESSAGE_UNSUBSCRIBE;
    stop.message_unsubscribe = &unsubscribe;
    response = cli_call_quietly(conn, &stop);
    if (response)
        cairn__response__free_unpacked(response, NULL);
    fprintf(stderr, "cursor %" PRIu64 " (resume with %s %" PRIu64 ")\n", cursor, resume, cursor);
    return CLI_EXIT_OK;
}
