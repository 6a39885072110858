-- mod_clientele: reports the authentications and sessions of this Prosody
-- to clientele, and carries out clientele's revoke commands on them.
--
-- The module turns Prosody's hooks into clientele events (wire form
-- version 1) and sends them with POST /v1/events of clientele's node
-- interface. Events wait in a bounded queue while clientele cannot be
-- reached. Each event gets its id once, when it is queued, so that a resend
-- is stored once. A long poll of GET /v1/commands per host brings the
-- revoke commands for that host's accounts: the module closes the named
-- sessions and reports them ended. GET /v1/settings brings
-- enforce_client_ids, which makes the module reject authentication
-- without a SASL2 client id.
--
-- Load it globally (in the global modules_enabled); it serves every
-- VirtualHost. The README of clientele lists the options. Tested with
-- Prosody 0.12.3 on Lua 5.4.
-- NOTE: it is meant to load on Prosody 13 too, but has not been run there.

module:set_global();

local async = require "util.async";
local datetime = require "util.datetime";
local http = require "net.http";
local http_util = require "util.http";
local jid_util = require "util.jid";
local json = require "util.json";
local new_id = require "util.id".medium;
local st = require "util.stanza";
local time_now = require "util.time".now;
local uuid = require "util.uuid".generate;

local hosts = prosody.hosts;

local xmlns_sasl = "urn:ietf:params:xml:ns:xmpp-sasl";
local xmlns_sasl2 = "urn:xmpp:sasl:2";

-- Limits of the event wire form: a string field may have at most
-- max_field bytes, and node ids follow node_pattern.
local max_field = 1024;
local node_pattern = "^[%w_%-]+$";

-- Sessions that started up to this many seconds after a command's time
-- are still matched by client id or resource, to allow for clock
-- differences between clientele and this server. Sessions named by id are
-- always matched.
local command_clock_skew = 10;

---------------------------------------------------------------------------
-- Options
---------------------------------------------------------------------------

local function default_node_id()
	local ok, socket = pcall(require, "socket");
	local name = ok and socket.dns and socket.dns.gethostname() or "prosody";
	name = name:gsub("[^%w_%-]", "-"):sub(1, 64);
	return name;
end

local function read_token(path)
	local file, err = io.open(path);
	if not file then
		error("mod_clientele: cannot read clientele_token_file: " .. tostring(err));
	end
	for line in file:lines() do
		line = line:match("^%s*(.-)%s*$");
		if line ~= "" and not line:match("^#") then
			file:close();
			return line;
		end
	end
	file:close();
	error("mod_clientele: clientele_token_file " .. path .. " contains no token");
end

local base_url = module:get_option_string("clientele_url");
if not base_url or not base_url:match("^https?://[^/]") then
	error("mod_clientele: set clientele_url to the node interface of clientele, such as \"http://127.0.0.1:9751\"");
end
base_url = base_url:gsub("/+$", "");

local token = module:get_option_string("clientele_token");
local token_file = module:get_option_path("clientele_token_file", nil, "config");
if token_file then
	token = read_token(token_file);
end
if not token or token == "" then
	error("mod_clientele: set clientele_token_file to a file with one of the tokens of clientele's --ingest-token-file");
end

local node_id = module:get_option_string("clientele_node_id", default_node_id());
if #node_id > 64 or not node_id:match(node_pattern) then
	error("mod_clientele: clientele_node_id \"" .. node_id .. "\" must be 1 to 64 letters, digits, '-' or '_'");
end

local heartbeat_interval = module:get_option_number("clientele_heartbeat_interval", 30);
local queue_limit = module:get_option_number("clientele_queue_size", 10000);
local batch_limit = module:get_option_number("clientele_batch_size", 500);
local poll_wait = module:get_option_number("clientele_poll_wait", 20);
local request_timeout = module:get_option_number("clientele_request_timeout", 15);
local retry_max = module:get_option_number("clientele_retry_max", 30);
local shutdown_timeout = module:get_option_number("clientele_shutdown_timeout", 3);
local state_path = module:get_option_path("clientele_state_file", "clientele-state.json", "data");

for name, value in pairs({
	clientele_heartbeat_interval = heartbeat_interval, clientele_queue_size = queue_limit,
	clientele_batch_size = batch_limit, clientele_request_timeout = request_timeout,
	clientele_retry_max = retry_max, clientele_poll_wait = poll_wait,
}) do
	if not (value > 0) then
		error("mod_clientele: " .. name .. " is " .. tostring(value) .. ": set a positive number");
	end
end

-- A request body stays well below clientele's default limit of 4 MiB.
local batch_bytes = 1024 * 1024;

---------------------------------------------------------------------------
-- Helpers
---------------------------------------------------------------------------

-- Returns t (seconds since the epoch) in RFC 3339 with milliseconds.
local function format_time(t)
	local secs = math.floor(t);
	local millis = math.floor((t - secs) * 1000);
	return os.date("!%Y-%m-%dT%H:%M:%S", secs) .. string.format(".%03dZ", millis);
end

-- Cuts s to max_field bytes without splitting a UTF-8 sequence.
local function limit(s)
	if s == nil or #s <= max_field then
		return s;
	end
	local cut = max_field;
	while cut > 0 and s:byte(cut + 1) and s:byte(cut + 1) >= 0x80 and s:byte(cut + 1) < 0xC0 do
		cut = cut - 1;
	end
	return s:sub(1, cut);
end

-- Returns a logging function that writes at most one record per interval
-- and counts, in the next record, the ones it skipped.
local function limited_log(level, interval)
	local last, skipped = 0, 0;
	return function(message, ...)
		local now = time_now();
		if now - last < interval then
			skipped = skipped + 1;
			return;
		end
		last = now;
		if skipped > 0 then
			message = message .. " (" .. skipped .. " similar records skipped)";
			skipped = 0;
		end
		module:log(level, message, ...);
	end
end

local log_send_failure = limited_log("warn", 30);
local log_poll_failure = limited_log("warn", 30);

---------------------------------------------------------------------------
-- State
---------------------------------------------------------------------------

-- boot is the id of this run of Prosody, new on every start. queue contains
-- the events not yet stored by clientele, oldest first, as entries
-- { line = JSON text, type = event type, attempted = true when a request
-- with it was sent and may have been stored, restored = true when it came
-- from the state file }.
local state = {
	boot = nil;
	-- since is the time this process loaded the module.
	since = nil;
	started = false;
	queue = {};
	-- restored counts the entries of the queue that came from the state
	-- file, which keeps them until they are stored.
	restored = 0;
	dropped = 0;
	resync = false;
	settings = { enforce_client_ids = false, revision = 0 };
	settings_known = false;
};

-- served maps every host that loaded the module to its poller state.
local served = {};

local function save_state(with_queue)
	local data = { settings = state.settings, queue = {} };
	if with_queue then
		for i, entry in ipairs(state.queue) do
			data.queue[i] = { line = entry.line, type = entry.type, attempted = entry.attempted };
		end
	end
	local tmp = state_path .. ".tmp";
	local file, err = io.open(tmp, "w");
	if not file then
		module:log("error", "Cannot write the state file %s: %s", tmp, err);
		return;
	end
	file:write(json.encode(data));
	file:close();
	local ok, rename_err = os.rename(tmp, state_path);
	if not ok then
		module:log("error", "Cannot replace the state file %s: %s", state_path, rename_err);
	end
end

-- Loads the settings and the queue that an earlier run left. Every loaded
-- entry counts as attempted, because the earlier run may have sent it.
local function load_state()
	local file = io.open(state_path);
	if not file then
		return;
	end
	local text = file:read("*a");
	file:close();
	local ok, data = pcall(json.decode, text);
	if not ok or type(data) ~= "table" then
		module:log("warn", "Ignoring the unreadable state file %s", state_path);
		return;
	end
	if type(data.settings) == "table" then
		state.settings.enforce_client_ids = data.settings.enforce_client_ids == true;
		state.settings.revision = tonumber(data.settings.revision) or 0;
	end
	for _, entry in ipairs(type(data.queue) == "table" and data.queue or {}) do
		if type(entry.line) == "string" then
			table.insert(state.queue, { line = entry.line, type = entry.type, attempted = true, restored = true });
		end
	end
	state.restored = #state.queue;
	if state.restored > 0 then
		module:log("info", "Loaded %d events that the last run could not send", state.restored);
	end
end

---------------------------------------------------------------------------
-- HTTP
---------------------------------------------------------------------------

-- Sends a request to clientele and calls callback(body, code) once: code 0
-- means that no response arrived (connection failure or timeout). net.http
-- has no timeout of its own, so a timer ends a request that takes too long.
local function request(method, path, body, content_type, timeout, callback)
	local finished = false;
	local req, timer;
	local function finish(response_body, code)
		if finished then
			return;
		end
		finished = true;
		if timer then
			timer:stop();
		end
		callback(response_body, code);
	end
	timer = module:add_timer(timeout, function()
		if req and req.conn then
			http.destroy_request(req);
		end
		finish("timed out after " .. timeout .. " s", 0);
	end);
	local headers = {
		["Authorization"] = "Bearer " .. token;
		["Accept"] = "application/json";
	};
	if body then
		headers["Content-Type"] = content_type;
	end
	req = http.request(base_url .. path, {
		method = method;
		headers = headers;
		body = body;
		suppress_errors = true;
	}, function(response_body, code)
		finish(response_body, code);
	end);
end

local function decode_json(body)
	if type(body) ~= "string" then
		return nil;
	end
	local ok, data = pcall(json.decode, body);
	if ok and type(data) == "table" then
		return data;
	end
	return nil;
end

-- Returns the next wait before a retry: from 1 s, doubled up to retry_max.
local function next_backoff(current)
	if not current then
		return 1;
	end
	return math.min(current * 2, retry_max);
end

---------------------------------------------------------------------------
-- Sending events
---------------------------------------------------------------------------

local sender = { busy = false, retry_timer = nil, backoff = nil, waiters = {} };
local flush;
local resync;

-- Calls the functions that wait for the queue to drain or a send to fail.
local function notify_waiters()
	local waiters = sender.waiters;
	sender.waiters = {};
	for _, fn in ipairs(waiters) do
		fn();
	end
end

local function schedule_retry()
	sender.backoff = next_backoff(sender.backoff);
	sender.retry_timer = module:add_timer(sender.backoff, function()
		sender.retry_timer = nil;
		flush();
	end);
	notify_waiters();
end

-- Counts an entry that leaves the queue. Once the last entry from the
-- state file is gone, the file no longer needs to keep the queue.
local function forget_entry(entry)
	if not entry.restored then
		return;
	end
	state.restored = state.restored - 1;
	if state.restored == 0 then
		save_state(false);
	end
end

-- Removes the first n entries of the queue and puts keep, a subset of
-- them, in front of the rest, in order.
local function replace_front(n, keep)
	local kept = {};
	for _, entry in ipairs(keep) do
		kept[entry] = true;
	end
	for i = 1, n do
		if not kept[state.queue[i]] then
			forget_entry(state.queue[i]);
		end
	end
	local rest = {};
	table.move(keep, 1, #keep, 1, rest);
	table.move(state.queue, n + 1, #state.queue, #rest + 1, rest);
	state.queue = rest;
end

-- Applies the per-event results of a POST /v1/events response to the
-- first n entries of the queue. It returns true when every one has a final
-- result, so that none waits for a retry.
local function apply_results(n, results)
	local by_line = {};
	for _, result in ipairs(results) do
		if type(result) == "table" and tonumber(result.line) then
			by_line[tonumber(result.line)] = result;
		end
	end
	local keep = {};
	for i = 1, n do
		local entry, result = state.queue[i], by_line[i];
		if not result or result.retry then
			table.insert(keep, entry);
		elseif not result.ok then
			module:log("error", "clientele rejected event %s (%s) for good: %s", tostring(result.id), tostring(result.type), tostring(result.error));
		end
	end
	replace_front(n, keep);
	return #keep == 0;
end

function flush()
	if sender.busy or sender.retry_timer or not state.started then
		return;
	end
	if #state.queue == 0 then
		notify_waiters();
		if state.resync then
			resync();
		end
		return;
	end

	local lines, bytes, recheck = {}, 0, false;
	for i = 1, math.min(#state.queue, batch_limit) do
		local entry = state.queue[i];
		if i > 1 and bytes + #entry.line > batch_bytes then
			break;
		end
		lines[i] = entry.line;
		bytes = bytes + #entry.line + 1;
		recheck = recheck or entry.attempted;
		entry.attempted = true;
	end

	-- A batch with an event that an earlier request may have stored sets
	-- recheck, so that clientele looks for the stored copy. The stream's
	-- own duplicate check covers only two minutes.
	local path = recheck and "/v1/events?recheck=1" or "/v1/events";
	local n = #lines;
	sender.busy = true;
	request("POST", path, table.concat(lines, "\n") .. "\n", "application/x-ndjson", request_timeout, function(body, code)
		sender.busy = false;
		local data = (code == 200 or code == 503) and decode_json(body);
		if data and type(data.results) == "table" then
			if apply_results(n, data.results) then
				sender.backoff = nil;
				flush();
				return;
			end
			log_send_failure("clientele stored only part of %d events, retrying the rest", n);
		else
			local reason = decode_json(body);
			reason = reason and reason.error or body;
			module:log("debug", "Sending %d events failed (status %s): %s", n, tostring(code), tostring(reason));
			log_send_failure("Sending %d events to clientele failed (status %s): %s; %d events queued", n, tostring(code), tostring(reason), #state.queue);
		end
		schedule_retry();
	end);
end

-- Drops events to make room for one more: an unsent heartbeat first, else
-- the oldest event. The dropped events may have started or ended a
-- session, so the next drain of the queue starts a resync, which sends a
-- new node.started and every live session again.
local function make_room()
	for i = #state.queue, 1, -1 do
		if state.queue[i].type == "node.heartbeat" and not state.queue[i].attempted then
			table.remove(state.queue, i);
			return;
		end
	end
	forget_entry(table.remove(state.queue, 1));
	state.dropped = state.dropped + 1;
	if not state.resync then
		module:log("error", "Event queue full (%d events): dropping the oldest events until clientele is reachable, then resending every live session", queue_limit);
	end
	state.resync = true;
end

local function enqueue(event)
	local line = json.encode(event);
	if #state.queue >= queue_limit then
		make_room();
	end
	table.insert(state.queue, { line = line, type = event.type });
	flush();
end

-- Returns a new event of the wire form, version 1.
local function new_event(event_type, user, fields)
	local event = {
		id = uuid();
		type = event_type;
		v = 1;
		time = format_time(time_now());
		node = node_id;
		user = user;
	};
	for k, v in pairs(fields or {}) do
		event[k] = v;
	end
	return event;
end

---------------------------------------------------------------------------
-- Session events
---------------------------------------------------------------------------

-- Mechanisms that authenticate with the account password.
local function is_password_mechanism(mechanism)
	return mechanism == "PLAIN" or mechanism == "LOGIN" or mechanism == "DIGEST-MD5"
		or (mechanism or ""):match("^SCRAM%-") ~= nil;
end

-- Returns the clientele session id of session, assigning one on first use.
-- Prosody's own session ids come from table addresses and may repeat.
local function session_id(session)
	if not session.clientele_sid or session.clientele_boot ~= state.boot then
		session.clientele_sid = new_id();
		session.clientele_boot = state.boot;
		session.clientele_start = session.clientele_start or time_now();
	end
	return session.clientele_sid;
end

local function client_of(session)
	local agent = session.clientele_agent or {};
	if not (session.client_id or agent.software or agent.device) then
		return nil;
	end
	return {
		id = limit(session.client_id);
		software = limit(agent.software);
		device = limit(agent.device);
	};
end

local function user_of(session)
	return jid_util.join(session.username, session.host);
end

-- Queues the auth event of a session that just authenticated. Mechanisms
-- other than password ones and HT-* (FAST tokens with a client id) have no
-- event type of their own and are not reported.
local function report_auth(session, mechanism)
	if session.clientele_auth_reported then
		return;
	end
	session.clientele_auth_reported = true;
	session.clientele_start = time_now();
	session.clientele_mechanism = mechanism;
	local event_type;
	if is_password_mechanism(mechanism) then
		event_type = "auth.password";
	elseif (mechanism or ""):match("^HT%-") and session.client_id then
		event_type = "auth.fast";
	else
		module:log("debug", "No event for authentication with %s", tostring(mechanism));
		return;
	end
	enqueue(new_event(event_type, user_of(session), {
		session = { id = session_id(session) };
		client = client_of(session);
		mechanism = mechanism;
	}));
end

local function report_session(event_type, session, reason)
	if not session.username or not session.resource then
		return;
	end
	if reason ~= nil and type(reason) ~= "string" then
		reason = tostring(reason);
	end
	enqueue(new_event(event_type, user_of(session), {
		session = { id = session_id(session), resource = limit(session.resource) };
		client = client_of(session);
		reason = limit(reason);
	}));
end

-- Queues the events that describe every live session of host as of now:
-- its password authentication, if any, its binding and its hibernation.
local function announce_sessions(host)
	local host_session = hosts[host];
	if not host_session then
		return;
	end
	for _, user in pairs(host_session.sessions or {}) do
		for _, session in pairs(user.sessions or {}) do
			session.clientele_auth_reported = nil;
			session_id(session);
			if is_password_mechanism(session.clientele_mechanism) then
				report_auth(session, session.clientele_mechanism);
			end
			report_session("session.bound", session);
			if session.hibernating then
				report_session("session.hibernated", session);
			end
		end
	end
end

local function start_boot()
	state.boot = uuid();
	enqueue(new_event("node.started", nil, { boot = state.boot }));
end

-- Starts a new boot and resends every live session, after events were
-- dropped from a full queue.
function resync()
	module:log("warn", "Resending every live session after %d dropped events", state.dropped);
	state.resync, state.dropped = false, 0;
	start_boot();
	for host in pairs(served) do
		announce_sessions(host);
	end
end

---------------------------------------------------------------------------
-- enforce_client_ids
---------------------------------------------------------------------------

local rejection_text = "This server accepts only clients that authenticate with SASL2 and send a client id (XEP-0388)";

-- Rejects SASL (RFC 6120) authentication, which carries no client id.
local function reject_legacy_sasl(event)
	local session = event.origin;
	if not state.settings.enforce_client_ids or session.type ~= "c2s_unauthed" then
		return;
	end
	session.log("info", "Rejected SASL authentication without a client id: enforce_client_ids is on");
	session.send(st.stanza("failure", { xmlns = xmlns_sasl })
		:tag("not-authorized"):up()
		:text_tag("text", rejection_text));
	return true;
end

-- Notes the SASL2 user agent, and rejects a SASL2 authentication without
-- a client id while enforce_client_ids is on.
local function on_sasl2_authenticate(event)
	local session, stanza = event.origin, event.stanza;
	local agent = stanza:get_child("user-agent");
	if agent then
		session.clientele_agent = {
			id = agent.attr.id;
			software = agent:get_child_text("software");
			device = agent:get_child_text("device");
		};
	end
	if state.settings.enforce_client_ids and not (agent and agent.attr.id and agent.attr.id ~= "") then
		session.log("info", "Rejected SASL2 authentication without a client id: enforce_client_ids is on");
		session.send(st.stanza("failure", { xmlns = xmlns_sasl2 })
			:tag("not-authorized", { xmlns = xmlns_sasl }):up()
			:text_tag("text", rejection_text));
		return true;
	end
end

-- Rejects binding a resource in a session without a client id, which
-- covers ways of authentication that the two hooks above do not see. The
-- stream is closed right after the bind error, because a client cannot go
-- on without a resource.
local function reject_bind_without_client_id(event)
	local session = event.session;
	if state.settings.enforce_client_ids and not session.client_id then
		session.log("info", "Rejected resource binding without a client id: enforce_client_ids is on");
		event.error = { type = "auth", condition = "not-authorized", text = rejection_text };
		module:add_timer(0, function()
			session:close({ condition = "policy-violation", text = rejection_text });
		end);
		return false;
	end
end

---------------------------------------------------------------------------
-- Revoke commands
---------------------------------------------------------------------------

local handled_commands = {};
local handled_order = {};

local function remember_command(id)
	handled_commands[id] = true;
	table.insert(handled_order, id);
	if #handled_order > 1000 then
		handled_commands[table.remove(handled_order, 1)] = nil;
	end
end

local function as_set(list)
	local set = {};
	for _, v in ipairs(type(list) == "table" and list or {}) do
		set[v] = true;
	end
	return set;
end

-- Reports whether session is one that command names.
local function command_matches(command, session, session_ids, resources, command_time)
	if session.clientele_sid and session_ids[session.clientele_sid] then
		return true;
	end
	-- By client id or resource, only sessions that existed when the
	-- command was issued: a client may log in again after a revoke.
	if command_time and (session.clientele_start or 0) > command_time + command_clock_skew then
		return false;
	end
	if command.client_id and command.client_id ~= "" then
		return session.client_id == command.client_id;
	end
	return not session.client_id and resources[session.resource] == true;
end

-- Closes the sessions on host that a revoke command names. Their
-- resource-unbind reports them ended.
local function carry_out(host, command)
	if type(command) ~= "table" or command.type ~= "revoke" or type(command.user) ~= "string" then
		module:log("warn", "Ignoring a command that is not a revoke: %s", tostring(type(command) == "table" and command.type));
		return;
	end
	if handled_commands[command.id] then
		return;
	end
	local username, domain = jid_util.prepped_split(command.user);
	if domain ~= host or not username then
		return;
	end
	local session_ids = {};
	for _, ref in ipairs(type(command.sessions) == "table" and command.sessions or {}) do
		if ref.node == node_id then
			session_ids[ref.id] = true;
		end
	end
	local resources = as_set(command.resources);
	local command_time = datetime.parse(command.time);

	local user = hosts[host] and hosts[host].sessions[username];
	local closing = {};
	for _, session in pairs(user and user.sessions or {}) do
		if command_matches(command, session, session_ids, resources, command_time) then
			table.insert(closing, session);
		end
	end
	for _, session in ipairs(closing) do
		module:log("info", "Closing session %s of %s: revoked by %s", session.full_jid, command.user, tostring(command.actor));
		session.clientele_end_reason = "revoked";
		session:close({ condition = "not-authorized", text = "Access to this account was revoked" });
	end
	remember_command(command.id);
end

-- The since parameter makes clientele deliver the commands issued since
-- this process started, should this be the first poll of this node.
local function commands_path(host)
	return "/v1/commands?node=" .. http_util.urlencode(node_id) .. "&domain=" .. http_util.urlencode(host)
		.. "&wait=" .. poll_wait .. "&since=" .. http_util.urlencode(format_time(state.since));
end

local poll_commands;

local function retry_commands(host, poller, reason)
	log_poll_failure("Polling clientele for commands of %s failed: %s", host, reason);
	poller.backoff = next_backoff(poller.backoff);
	poller.module:add_timer(poller.backoff, function()
		poll_commands(host);
	end);
end

local function send_acks(host, poller, acks)
	local body = json.encode({ node = node_id, domain = host, acks = acks });
	request("POST", "/v1/commands/ack", body, "application/json", request_timeout, function(response_body, code)
		local data = code == 200 and decode_json(response_body);
		for _, result in ipairs(data and data.results or {}) do
			if not result.ok then
				module:log("warn", "clientele did not confirm a command acknowledgement: %s", tostring(result.error));
			end
		end
		if code ~= 200 then
			module:log("warn", "Acknowledging %d commands failed (status %s); clientele delivers them again", #acks, tostring(code));
		end
		poll_commands(host);
	end);
end

function poll_commands(host)
	local poller = served[host];
	if not poller or poller.stopped then
		return;
	end
	request("GET", commands_path(host), nil, nil, poll_wait + request_timeout, function(body, code)
		if poller.stopped then
			return;
		end
		local data = code == 200 and decode_json(body);
		if not data or type(data.commands) ~= "table" then
			local reason = decode_json(body);
			retry_commands(host, poller, "status " .. tostring(code) .. ": " .. tostring(reason and reason.error or body));
			return;
		end
		poller.backoff = nil;
		local acks = {};
		for _, delivered in ipairs(data.commands) do
			local ok, err = pcall(carry_out, host, delivered.command);
			if not ok then
				module:log("error", "Carrying out a command failed: %s", tostring(err));
			end
			table.insert(acks, delivered.ack);
		end
		if #acks > 0 then
			send_acks(host, poller, acks);
		else
			poll_commands(host);
		end
	end);
end

---------------------------------------------------------------------------
-- Settings
---------------------------------------------------------------------------

local settings_poller = { backoff = nil };

local function apply_settings(data)
	local enforce = data.enforce_client_ids == true;
	local changed = enforce ~= state.settings.enforce_client_ids;
	state.settings = { enforce_client_ids = enforce, revision = tonumber(data.revision) or 0 };
	if changed or not state.settings_known then
		module:log("info", "enforce_client_ids is %s", enforce and "on" or "off");
	end
	state.settings_known = true;
	if changed then
		save_state(state.restored > 0);
	end
end

local function poll_settings()
	local path = "/v1/settings?after=" .. state.settings.revision .. "&wait=" .. (state.settings_known and poll_wait or 0);
	request("GET", path, nil, nil, poll_wait + request_timeout, function(body, code)
		local data = code == 200 and decode_json(body);
		if not data then
			local reason = decode_json(body);
			log_poll_failure("Fetching settings from clientele failed (status %s): %s", tostring(code), tostring(reason and reason.error or body));
			settings_poller.backoff = next_backoff(settings_poller.backoff);
			module:add_timer(settings_poller.backoff, poll_settings);
			return;
		end
		settings_poller.backoff = nil;
		apply_settings(data);
		poll_settings();
	end);
end

---------------------------------------------------------------------------
-- Hosts
---------------------------------------------------------------------------

local function on_auth_success(event)
	local session = event.session;
	local handler = session.sasl_handler;
	report_auth(session, handler and handler.selected);
end

local function on_sasl2_success(event)
	local session = event.session;
	local handler = session.sasl_handler;
	report_auth(session, handler and handler.selected);
end

local function on_bind(event)
	report_session("session.bound", event.session);
end

local function on_unbind(event)
	local session = event.session;
	report_session("session.unbound", session, session.clientele_end_reason or event.error or "closed");
end

local function on_hibernate(event)
	report_session("session.hibernated", event.origin);
end

local function on_resume(event)
	report_session("session.resumed", event.resumed or event.origin);
end

local function start_host(host, host_module)
	served[host] = { module = host_module, backoff = nil, stopped = false };
	poll_commands(host);
end

function module.add_host(host_module)
	local host = host_module.host;
	host_module:hook("authentication-success", on_auth_success);
	host_module:hook("sasl2/c2s/success", on_sasl2_success, 500);
	host_module:hook("stanza/" .. xmlns_sasl .. ":auth", reject_legacy_sasl, 100);
	host_module:hook("stanza/" .. xmlns_sasl2 .. ":authenticate", on_sasl2_authenticate, 100);
	host_module:hook("pre-resource-bind", reject_bind_without_client_id, 100);
	host_module:hook("resource-bind", on_bind);
	host_module:hook("resource-unbind", on_unbind);
	host_module:hook("smacks-hibernation-start", on_hibernate);
	host_module:hook("smacks-hibernation-end", on_resume);

	if state.started then
		announce_sessions(host);
		start_host(host, host_module);
	else
		served[host] = { module = host_module, pending = true };
	end

	-- A host inherits the functions of the global module; these are its own.
	host_module.save, host_module.restore = false, false;
	function host_module.unload()
		if served[host] then
			served[host].stopped = true;
		end
		served[host] = nil;
	end
end

---------------------------------------------------------------------------
-- Lifecycle
---------------------------------------------------------------------------

local function heartbeat()
	local last = state.queue[#state.queue];
	if last and last.type == "node.heartbeat" and not last.attempted then
		table.remove(state.queue);
	end
	enqueue(new_event("node.heartbeat"));
	return heartbeat_interval;
end

-- Starts sending, the heartbeat and the settings and command polls.
local function begin()
	if state.started then
		return;
	end
	state.started = true;
	module:log("info", "Reporting to %s as node %s, boot %s", base_url, node_id, tostring(state.boot));
	module:add_timer(heartbeat_interval, heartbeat);
	poll_settings();
	for host, entry in pairs(served) do
		if entry.pending then
			start_host(host, entry.module);
		end
	end
	flush();
end

-- Sends node.stopped and waits up to clientele_shutdown_timeout for the
-- queue to drain. mod_c2s has closed the sessions by now (priority -100).
local function on_stopping()
	for _, poller in pairs(served) do
		poller.stopped = true;
	end
	enqueue(new_event("node.stopped"));
	if not async.ready() or #state.queue == 0 or sender.retry_timer then
		return;
	end
	local wait, done = async.waiter(1, true);
	table.insert(sender.waiters, done);
	module:add_timer(shutdown_timeout, done);
	wait();
end

-- Keeps what could not be sent for the next start.
local function on_stopped()
	save_state(true);
	if #state.queue > 0 then
		module:log("warn", "%d events not yet stored by clientele kept in %s for the next start", #state.queue, state_path);
	end
end

module:hook_global("server-stopping", on_stopping, -200);
module:hook_global("server-stopped", on_stopped);

module:hook_global("user-password-changed", function(event)
	if served[event.host] then
		enqueue(new_event("password.changed", jid_util.join(event.username, event.host)));
	end
end);

module:hook_global("user-deleted", function(event)
	if served[event.host] then
		enqueue(new_event("account.deleted", jid_util.join(event.username, event.host)));
	end
end);

-- NOTE: a reload of the module keeps the boot, the queue and the settings
-- through save and restore, but no test runs a reload.
function module.save()
	return { state = state };
end

function module.restore(saved)
	if type(saved) == "table" and type(saved.state) == "table" then
		state = saved.state;
		state.started = false;
		module:log("info", "Kept boot %s and %d queued events across a reload", tostring(state.boot), #state.queue);
	end
end

function module.load()
	if module.reloading then
		-- On a reload, restore runs after load and brings back the boot and
		-- the queue.
		module:add_timer(0, begin);
		return;
	end
	-- node.started goes first, so that every session of this run starts
	-- after it.
	state.since = time_now();
	load_state();
	start_boot();
	if prosody.start_time then
		begin();
	else
		module:hook_global("server-started", begin);
	end
end
