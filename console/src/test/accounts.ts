/** A fake of the API's accounts routes with state (users, tokens), for the screens' tests. */
import { apiError, fakeFetch, json } from "./fetch";

interface FakeUser {
  id: number;
  username: string;
  role: string;
  disabled: boolean;
  created_at: string;
  updated_at: string;
  password_changed_at: string;
  last_login_at: string | null;
}

interface FakeToken {
  id: number;
  user_id: number;
  name: string;
  prefix: string;
  token: string;
  created_at: string;
  expires_at: string | null;
  last_used_at: string | null;
  revoked_at: string | null;
}

const AT = "2026-12-07T12:00:00+00:00";

export class FakeAccounts {
  users: FakeUser[] = [];
  tokens: FakeToken[] = [];
  /** Who is signed in (`/auth/me`). */
  me: FakeUser;
  passwords = new Map<number, string>();
  private serial = 0;

  constructor(role = "admin") {
    this.me = this.add("root", role, "the root password");
    this.me.last_login_at = AT;
  }

  add(username: string, role: string, password = `generated-${username}-0001`): FakeUser {
    const user = {
      id: this.users.length + 1,
      username,
      role,
      disabled: false,
      created_at: AT,
      updated_at: AT,
      password_changed_at: AT,
      last_login_at: null,
    };
    this.users.push(user);
    this.passwords.set(user.id, password);
    return user;
  }

  private shown(token: FakeToken) {
    const { token: _secret, user_id: _user, ...listed } = token;
    return listed;
  }

  private enabledAdmins(): number {
    return this.users.filter((u) => u.role === "admin" && !u.disabled).length;
  }

  /** Serve `fetch` from this fake; the requests made are returned. */
  serve(): Request[] {
    return fakeFetch(async (request) => {
      const { pathname } = new URL(request.url);
      const method = request.method;
      const body = method === "GET" || method === "DELETE" ? {} : ((await request.json().catch(() => ({}))) as Record<string, unknown>);
      if (pathname === "/api/v1/auth/me") return json({ id: this.me.id, username: this.me.username, role: this.me.role });
      if (pathname === "/api/v1/auth/password") {
        if (body.current_password !== this.passwords.get(this.me.id)) {
          return apiError(422, "InvalidSettings", "the current password is wrong");
        }
        this.passwords.set(this.me.id, String(body.new_password));
        return json({ csrf_token: "new-csrf" });
      }
      if (pathname === "/api/v1/users" && method === "GET") return json({ items: this.users });
      if (pathname === "/api/v1/users" && method === "POST") {
        const user = this.add(String(body.username), String(body.role));
        return json({ user, password: this.passwords.get(user.id) }, 201);
      }
      const tokenPath = pathname.match(/^\/api\/v1\/(?:auth|users\/(\d+))\/tokens(?:\/(\d+))?$/);
      if (tokenPath) {
        const userId = tokenPath[1] ? Number(tokenPath[1]) : this.me.id;
        if (method === "GET") {
          return json({ items: this.tokens.filter((t) => t.user_id === userId).map((t) => this.shown(t)).reverse() });
        }
        if (method === "POST") {
          this.serial += 1;
          const secret = `fbt_secret${this.serial}xyz`;
          const token = {
            id: this.tokens.length + 1,
            user_id: userId,
            name: String(body.name),
            prefix: secret.slice(0, 8),
            token: secret,
            created_at: AT,
            expires_at: null,
            last_used_at: null,
            revoked_at: null,
          };
          this.tokens.push(token);
          return json({ ...this.shown(token), token: secret }, 201);
        }
        const token = this.tokens.find((t) => t.id === Number(tokenPath[2]) && t.user_id === userId);
        if (!token) return apiError(404, "NotFound", "no such token");
        token.revoked_at = AT;
        return new Response(null, { status: 204 });
      }
      const userPath = pathname.match(/^\/api\/v1\/users\/(\d+)(\/password)?$/);
      const user = userPath ? this.users.find((u) => u.id === Number(userPath[1])) : undefined;
      if (userPath && !user) return apiError(404, "NotFound", "no such user");
      if (user && userPath?.[2]) {
        const password = `reset-${user.username}-password`;
        this.passwords.set(user.id, password);
        return json({ user, password });
      }
      if (user && method === "GET") return json(user);
      if (user && method === "PATCH") {
        const role = (body.role as string | undefined) ?? user.role;
        const disabled = (body.disabled as boolean | undefined) ?? user.disabled;
        const wasAdmin = user.role === "admin" && !user.disabled;
        if (wasAdmin && !(role === "admin" && !disabled) && this.enabledAdmins() === 1) {
          return apiError(409, "Conflict", `${user.username} is the last enabled admin; make another user admin first`);
        }
        Object.assign(user, { role, disabled });
        return json(user);
      }
      return apiError(404, "NotFound", pathname);
    });
  }
}
