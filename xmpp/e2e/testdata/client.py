"""Run XMPP client actions with slixmpp and print each outcome as a JSON line.

The client logs in over plain TCP (no TLS) with the password from the
XMPP_PASSWORD environment variable, runs the actions and prints one JSON
object per line on stdout:

- events carry an "event" key: "online", "login-failed", "connection-failed",
  "stream-error" and "disconnected" (with "by": "client" or "server");
- outcomes carry an "op" key and the index of their action in "action".

Actions are JSON objects:

    {"op": "list",   "ns": NS, "to": null | JID}
    {"op": "revoke", "ns": NS, "to": null | JID, "id": ID}
    {"op": "disco",  "to": null | JID, "node": null | NODE}
    {"op": "ping",   "to": null | JID}
    {"op": "iq",     "type": "get" | "set", "to": null | JID, "payload": XML}

A null or missing "to" sends the IQ without a "to" attribute. The actions
come from the ACTIONS argument (a JSON array or one object) or, without it,
from stdin as one JSON array. With --hold the client runs the ACTIONS
argument, then reads one action per stdin line and stays connected until
stdin closes or the server ends the stream.

Exit status: 0 after a clean run, 1 for invalid actions, 2 for invalid
arguments (argparse's status) and 3 when the login or the connection failed.
"""

import argparse
import asyncio
import json
import logging
import os
import sys
import threading
import xml.etree.ElementTree as ET

import slixmpp
from slixmpp.exceptions import IqError, IqTimeout

NS_CLIENT = "jabber:client"
NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"
NS_STREAMS = "urn:ietf:params:xml:ns:xmpp-streams"
NS_DISCO_INFO = "http://jabber.org/protocol/disco#info"
NS_PING = "urn:xmpp:ping"

EXIT_NOT_ONLINE = 3


def emit(obj):
    """Print obj as one JSON line and flush, so a reader sees it at once."""
    sys.stdout.write(json.dumps(obj, sort_keys=True) + "\n")
    sys.stdout.flush()


def split_tag(tag):
    """Return (namespace, local name) of an ElementTree tag."""
    if tag.startswith("{"):
        ns, _, name = tag[1:].partition("}")
        return ns, name
    return "", tag


def element_to_dict(elem):
    """Convert an element and its subtree to plain JSON values."""
    ns, name = split_tag(elem.tag)
    return {
        "name": name,
        "ns": ns,
        "attrs": dict(elem.attrib),
        "text": (elem.text or "").strip(),
        "children": [element_to_dict(child) for child in elem],
    }


def parse_client(elem, ns):
    """Parse one <client/> element of a list result.

    Known children fill their own keys. A child in another namespace, an
    unknown child and every repeat of a known child go to "other", so the
    output keeps everything that the server sent.
    """
    client = {
        "id": elem.get("id"),
        "connected": elem.get("connected"),
        "type": elem.get("type"),
        "attrs": dict(elem.attrib),
        "first_seen": None,
        "last_seen": None,
        "auth": None,
        "user_agent": None,
        "permission": None,
        "other": [],
    }
    for child in elem:
        child_ns, name = split_tag(child.tag)
        key = name.replace("-", "_")
        if child_ns != ns or key not in client or client[key] is not None:
            client["other"].append(element_to_dict(child))
        elif name in ("first-seen", "last-seen"):
            client[key] = (child.text or "").strip()
        elif name == "auth":
            client["auth"] = [
                {"name": split_tag(m.tag)[1], "ns": split_tag(m.tag)[0]}
                for m in child
            ]
        elif name == "user-agent":
            client["user_agent"] = {
                "fields": {
                    split_tag(f.tag)[1]: (f.text or "").strip()
                    for f in child
                    if split_tag(f.tag)[0] == ns
                },
                "other": [
                    element_to_dict(f) for f in child if split_tag(f.tag)[0] != ns
                ],
            }
        elif name == "permission":
            client["permission"] = {
                "status": child.get("status"),
                "children": [element_to_dict(c) for c in child],
            }
        else:
            client["other"].append(element_to_dict(child))
    return client


def parse_stanza_error(iq_xml):
    """Parse the <error/> child of an IQ of type error."""
    error = iq_xml.find("{%s}error" % NS_CLIENT)
    if error is None:
        return {"type": None, "condition": None, "condition_ns": None}
    result = {
        "type": error.get("type"),
        "by": error.get("by"),
        "condition": None,
        "condition_ns": None,
        "text": None,
        "app_name": None,
        "app_ns": None,
    }
    for child in error:
        ns, name = split_tag(child.tag)
        if ns == NS_STANZAS and name == "text":
            result["text"] = child.text or ""
        elif result["condition"] is None and ns in (NS_STANZAS, NS_CLIENT, ""):
            # A condition in a namespace other than NS_STANZAS is still
            # recorded, with its namespace, so that a test can reject it.
            result["condition"] = name
            result["condition_ns"] = ns
        elif result["app_name"] is None:
            result["app_name"] = name
            result["app_ns"] = ns
    return result


def first_child(iq_xml):
    """Return the first payload element of an IQ, skipping <error/>."""
    for child in iq_xml:
        if child.tag != "{%s}error" % NS_CLIENT:
            return child
    return None


def describe_result(action, iq_xml):
    """Build the outcome fields of a result IQ for the action's op."""
    payload = first_child(iq_xml)
    out = {"payload": element_to_dict(payload) if payload is not None else None}
    op = action.get("op")
    if op == "list":
        ns = action.get("ns", "")
        clients = iq_xml.find("{%s}clients" % ns)
        out["clients"] = (
            [parse_client(c, ns) for c in clients.findall("{%s}client" % ns)]
            if clients is not None
            else None
        )
    elif op == "disco" and payload is not None:
        out["features"] = [
            f.get("var") for f in payload.findall("{%s}feature" % NS_DISCO_INFO)
        ]
        out["identities"] = [
            {"category": i.get("category"), "type": i.get("type"), "name": i.get("name")}
            for i in payload.findall("{%s}identity" % NS_DISCO_INFO)
        ]
    return out


def build_payload(action):
    """Return the request's IQ type and payload element for an action."""
    op = action.get("op")
    if op == "list":
        return "get", ET.Element("{%s}list" % action["ns"])
    if op == "revoke":
        elem = ET.Element("{%s}revoke" % action["ns"])
        elem.set("id", action.get("id") or "")
        return "set", elem
    if op == "disco":
        elem = ET.Element("{%s}query" % NS_DISCO_INFO)
        if action.get("node"):
            elem.set("node", action["node"])
        return "get", elem
    if op == "ping":
        return "get", ET.Element("{%s}ping" % NS_PING)
    if op == "iq":
        return action.get("type") or "get", ET.fromstring(action["payload"])
    raise ValueError("unknown op %r: expected list, revoke, disco, ping or iq" % op)


class ActionClient(slixmpp.ClientXMPP):
    """A slixmpp client that runs actions and reports their outcomes."""

    def __init__(self, jid, password, timeout):
        super().__init__(jid, password)
        self.action_timeout = timeout
        self.online = asyncio.get_event_loop().create_future()
        self.closing = False
        self.ended = asyncio.Event()
        self.received = []
        self.add_event_handler("session_start", self.on_session_start)
        self.add_event_handler("failed_all_auth", self.on_failed_auth)
        self.add_event_handler("connection_failed", self.on_connection_failed)
        self.add_event_handler("stream_error", self.on_stream_error)
        self.add_event_handler("disconnected", self.on_disconnected)
        self.register_handler(
            slixmpp.Callback(
                "record IQ replies",
                slixmpp.MatchXPath("{%s}iq" % NS_CLIENT),
                self.record_reply,
            )
        )

    def record_reply(self, iq):
        # Replies are kept so that a timed-out action can show a reply that
        # slixmpp did not match to its request, for example one with an
        # unexpected "from".
        if iq["type"] in ("result", "error"):
            self.received.append(iq)

    def on_session_start(self, _event):
        emit({"event": "online", "jid": self.boundjid.full})
        if not self.online.done():
            self.online.set_result(True)

    def on_failed_auth(self, _event):
        emit({"event": "login-failed", "error": "authentication failed"})
        if not self.online.done():
            self.online.set_result(False)

    def on_connection_failed(self, error):
        emit({"event": "connection-failed", "error": str(error)})
        self.cancel_connection_attempt()
        if not self.online.done():
            self.online.set_result(False)

    def on_stream_error(self, error):
        condition, text = None, None
        for child in error.xml:
            ns, name = split_tag(child.tag)
            if ns == NS_STREAMS and name == "text":
                text = child.text
            elif ns == NS_STREAMS and condition is None:
                condition = name
        emit({"event": "stream-error", "condition": condition, "text": text})

    def on_disconnected(self, reason):
        emit(
            {
                "event": "disconnected",
                "by": "client" if self.closing else "server",
                "reason": str(reason) if reason else None,
            }
        )
        self.ended.set()
        if not self.online.done():
            self.online.set_result(False)

    async def run_action(self, index, action):
        """Send one action's IQ and emit its outcome."""
        out = {"action": index, "op": action.get("op"), "to": action.get("to")}
        try:
            iq_type, payload = build_payload(action)
        except (KeyError, ValueError, ET.ParseError) as exc:
            out["error"] = "invalid action: %s" % exc
            emit(out)
            return
        if self.ended.is_set():
            out["error"] = "not connected"
            emit(out)
            return

        iq = self.make_iq(id=self.new_id(), itype=iq_type, ito=action.get("to") or None)
        iq.xml.append(payload)
        out["id"] = iq["id"]
        try:
            reply = await self.send_until_disconnect(iq)
        except ConnectionError:
            out["error"] = "not connected"
            emit(out)
            return
        except IqTimeout:
            out["error"] = "timeout"
            out["unmatched"] = [
                str(r) for r in self.received if r["id"] == iq["id"]
            ]
            emit(out)
            return
        except IqError as exc:
            out["error"] = "stanza"
            out["from"] = exc.iq["from"].full
            out["stanza_error"] = parse_stanza_error(exc.iq.xml)
            out["xml"] = str(exc.iq)
            emit(out)
            return

        out["error"] = None
        out["from"] = reply["from"].full
        out["xml"] = str(reply)
        out.update(describe_result(action, reply.xml))
        emit(out)

    async def send_until_disconnect(self, iq):
        """Send iq and return its reply, or raise ConnectionError when the
        stream ends first.

        Without the race, an IQ that is pending when the stream ends waits
        for its full timeout.
        """
        reply = asyncio.ensure_future(iq.send(timeout=self.action_timeout))
        ended = asyncio.ensure_future(self.ended.wait())
        done, _ = await asyncio.wait({reply, ended}, return_when=asyncio.FIRST_COMPLETED)
        if reply in done:
            ended.cancel()
            return reply.result()
        reply.cancel()
        raise ConnectionError("stream ended before the reply")

    async def close(self):
        self.closing = True
        if not self.ended.is_set():
            self.disconnect()
            await self.ended.wait()


def parse_actions(text):
    """Parse a JSON array of actions or a single action object."""
    value = json.loads(text)
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list) and all(isinstance(a, dict) for a in value):
        return value
    raise ValueError("actions must be a JSON object or an array of objects")


def start_stdin_reader(loop, queue):
    """Copy stdin lines into queue from a daemon thread, then put None.

    A daemon thread does not keep the process alive, so the client exits
    when the server ends the stream even while stdin stays open.
    """

    def copy_lines():
        for line in sys.stdin:
            loop.call_soon_threadsafe(queue.put_nowait, line)
        loop.call_soon_threadsafe(queue.put_nowait, None)

    threading.Thread(target=copy_lines, name="stdin", daemon=True).start()


async def run(args, actions):
    loop = asyncio.get_event_loop()
    password = os.environ.get("XMPP_PASSWORD", "")
    jid = args.jid + ("/" + args.resource if args.resource else "")
    client = ActionClient(jid, password, args.timeout)
    host, _, port = args.addr.rpartition(":")
    client.connect((host, int(port)), force_starttls=False, disable_starttls=True)

    if not await client.online:
        await client.close()
        return EXIT_NOT_ONLINE

    index = 0
    for action in actions:
        await client.run_action(index, action)
        index += 1

    if args.hold:
        lines = asyncio.Queue()
        start_stdin_reader(loop, lines)
        ended = asyncio.ensure_future(client.ended.wait())
        while True:
            line_task = asyncio.ensure_future(lines.get())
            done, _ = await asyncio.wait(
                {line_task, ended}, return_when=asyncio.FIRST_COMPLETED
            )
            if line_task not in done:
                line_task.cancel()
                break
            line = line_task.result()
            if line is None:
                break
            if not line.strip():
                continue
            try:
                batch = parse_actions(line)
            except ValueError as exc:
                emit({"action": index, "op": None, "error": "invalid action: %s" % exc})
                index += 1
                continue
            for action in batch:
                await client.run_action(index, action)
                index += 1

    await client.close()
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--addr", required=True, help="c2s address, HOST:PORT")
    parser.add_argument("--jid", required=True, help="bare JID to log in as")
    parser.add_argument("--resource", default="", help="resource to request")
    parser.add_argument(
        "--timeout", type=float, default=10.0, help="seconds to wait for each reply"
    )
    parser.add_argument(
        "--hold",
        action="store_true",
        help="read more actions from stdin and stay connected until it closes",
    )
    parser.add_argument("actions", nargs="?", help="JSON array of actions")
    args = parser.parse_args()

    if os.environ.get("E2E_CLIENT_DEBUG"):
        logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)

    try:
        if args.actions is not None:
            actions = parse_actions(args.actions)
        elif args.hold:
            actions = []
        else:
            actions = parse_actions(sys.stdin.read())
    except ValueError as exc:
        print("client.py: invalid actions: %s" % exc, file=sys.stderr)
        return 1

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        return loop.run_until_complete(run(args, actions))
    finally:
        # slixmpp leaves its stanza filter task running after a disconnect.
        pending = asyncio.all_tasks(loop)
        for task in pending:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.close()


if __name__ == "__main__":
    sys.exit(main())
