/**
 * A front end's first session with the Digital Leaders API, typed from openapi/openapi.json:
 * sign up, log in, list events, register, confirm. `make client-check` type-checks it against
 * freshly generated types, so a change to the contract that breaks a client fails CI.
 *
 * The access token lives in memory only; it is refreshed shortly before it expires, and the
 * refresh token is replaced on every refresh (the old one is spent: presenting it again
 * revokes the whole login).
 */
import createClient, { type Client, type Middleware } from "openapi-fetch";
import type { components, paths } from "./schema";

export type Problem = components["schemas"]["Problem"];
export type EventRead = components["schemas"]["EventRead"];
export type RegistrationRead = components["schemas"]["RegistrationRead"];
type TokenPair = components["schemas"]["TokenPair"];

/** An error answer of the API: every 4xx and 5xx is an RFC 9457 problem document. */
export class ApiProblem extends Error {
  constructor(readonly problem: Problem) {
    super(problem.detail ? `${problem.title}: ${problem.detail}` : problem.title);
  }
}

function fail(error: Problem | undefined, response: Response): never {
  // A proxy in between may answer without a problem document.
  if (error) throw new ApiProblem(error);
  throw new Error(`HTTP ${response.status}`);
}

/** Refresh this long before the access token runs out, so a request never carries a dead one. */
const REFRESH_MARGIN_MS = 30_000;

export class Session {
  private accessToken: string | null = null;
  private refreshToken: string | null = null;
  private expiresAt = 0;
  private refreshing: Promise<void> | null = null;

  constructor(private readonly baseUrl: string) {}

  store(pair: TokenPair): void {
    this.accessToken = pair.access_token;
    this.refreshToken = pair.refresh_token;
    this.expiresAt = Date.now() + pair.expires_in * 1000;
  }

  clear(): void {
    this.accessToken = this.refreshToken = null;
    this.expiresAt = 0;
  }

  /** The access token to send, refreshed first when it is about to expire. */
  async token(): Promise<string | null> {
    if (this.accessToken && Date.now() > this.expiresAt - REFRESH_MARGIN_MS) {
      // One refresh at a time: two concurrent refreshes would present the same refresh token
      // twice, and the second would revoke the login.
      this.refreshing ??= this.refresh().finally(() => {
        this.refreshing = null;
      });
      await this.refreshing;
    }
    return this.accessToken;
  }

  private async refresh(): Promise<void> {
    const plain = createClient<paths>({ baseUrl: this.baseUrl });
    const { data, error, response } = await plain.POST("/api/v1/auth/refresh", {
      body: { refresh_token: this.refreshToken ?? "" },
    });
    if (!data) {
      this.clear(); // the login is over (expired, logged out, or revoked): sign in again
      fail(error, response);
    }
    this.store(data);
  }
}

export function connect(baseUrl: string): { api: Client<paths>; session: Session } {
  const session = new Session(baseUrl);
  const api = createClient<paths>({ baseUrl });
  const bearer: Middleware = {
    async onRequest({ request }) {
      const token = await session.token();
      if (token) request.headers.set("Authorization", `Bearer ${token}`);
      return request;
    },
  };
  api.use(bearer);
  return { api, session };
}

/** A new key per logical create: a retry of the same create reuses it and gets the first answer. */
const idempotencyKey = (): string => crypto.randomUUID();

export async function upcomingEvents(api: Client<paths>): Promise<EventRead[]> {
  const events: EventRead[] = [];
  let cursor: string | undefined;
  do {
    const { data, error, response } = await api.GET("/api/v1/events", {
      params: { query: { when: "upcoming", limit: 100, cursor } },
    });
    if (!data) fail(error, response);
    events.push(...data.items);
    cursor = data.next_cursor ?? undefined;
  } while (cursor);
  return events;
}

export interface Person {
  email: string;
  password: string;
  fullName: string;
}

export type Visit =
  | { kind: "registered"; registration: RegistrationRead }
  // Only members register for events: a new account is an applicant until the council
  // approves its application (approval revokes its tokens, so the person logs in again).
  | { kind: "applicant"; events: EventRead[] };

/** Sign up (or find the account exists), log in, list upcoming events and, as a member,
 * register for the first one open and confirm the seat. */
export async function visit(baseUrl: string, person: Person): Promise<Visit> {
  const { api, session } = connect(baseUrl);

  const signup = await api.POST("/api/v1/auth/signup", {
    params: { header: { "Idempotency-Key": idempotencyKey() } },
    body: { email: person.email, password: person.password, full_name: person.fullName },
  });
  // 202 whether or not the address is registered (nobody learns which): a returning visitor
  // logs in all the same. A new account verifies its address from the e-mailed link
  // (POST /api/v1/auth/verify-email) before it may register for an event.
  if (!signup.data) fail(signup.error, signup.response);

  const login = await api.POST("/api/v1/auth/login", {
    body: { email: person.email, password: person.password },
  });
  if (!login.data) fail(login.error, login.response);
  session.store(login.data);

  const me = await api.GET("/api/v1/me");
  if (!me.data) fail(me.error, me.response);
  const events = await upcomingEvents(api);
  if (!me.data.roles.includes("member")) return { kind: "applicant", events };

  const open = events.find((e) => e.status === "registration_open");
  if (!open) throw new Error("No upcoming event is open for registration.");

  const registered = await api.POST("/api/v1/events/{event_id}/registrations", {
    params: { path: { event_id: open.id }, header: { "Idempotency-Key": idempotencyKey() } },
    body: { source: "web" },
  });
  if (!registered.data) fail(registered.error, registered.response);

  // Registration holds nothing yet: the second confirmation takes a seat (or a place in line).
  const confirmed = await api.POST("/api/v1/registrations/{registration_id}/confirm", {
    params: { path: { registration_id: registered.data.id } },
  });
  if (!confirmed.data) fail(confirmed.error, confirmed.response);
  return { kind: "registered", registration: confirmed.data };
}
