import { Injectable } from '@nestjs/common';
import type { StompSession } from './stomp-session.js';

/** The open sessions of this server, by id. */
@Injectable()
export class SessionRegistry {
  private readonly sessions = new Map<string, StompSession>();

  add(session: StompSession): void {
    this.sessions.set(session.id, session);
  }

  remove(session: StompSession): void {
    this.sessions.delete(session.id);
  }

  get(id: string): StompSession | undefined {
    return this.sessions.get(id);
  }

  get size(): number {
    return this.sessions.size;
  }

  all(): IterableIterator<StompSession> {
    return this.sessions.values();
  }
}
