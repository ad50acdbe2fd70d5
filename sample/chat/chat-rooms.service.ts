import { Injectable } from '@nestjs/common';
import type { ChatMessage } from './chat-message.js';

/** Messages kept per room. */
const HISTORY = 20;
/** Rooms kept at once: any client may open a room, so the least recently used one goes beyond. */
export const MAX_ROOMS = 1000;

/** Keeps the last messages of each room, so newcomers see what was said. Bounded: rooms × history. */
@Injectable()
export class ChatRoomsService {
  private readonly rooms = new Map<string, ChatMessage[]>();

  record(message: ChatMessage): ChatMessage {
    const history = this.rooms.get(message.room) ?? [];
    history.push(message);
    if (history.length > HISTORY) history.shift();
    // Re-inserted, so the Map's order is least recently used first.
    this.rooms.delete(message.room);
    this.rooms.set(message.room, history);
    if (this.rooms.size > MAX_ROOMS) this.rooms.delete(this.rooms.keys().next().value as string);
    return message;
  }

  history(room: string): ChatMessage[] {
    return this.rooms.get(room) ?? [];
  }

  roomNames(): string[] {
    return [...this.rooms.keys()];
  }
}
