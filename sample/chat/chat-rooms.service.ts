import { Injectable } from '@nestjs/common';
import type { ChatMessage } from './chat-message.js';

const HISTORY = 20;

/** Keeps the last messages of each room, so newcomers see what was said. */
@Injectable()
export class ChatRoomsService {
  private readonly rooms = new Map<string, ChatMessage[]>();

  record(message: ChatMessage): ChatMessage {
    const history = this.rooms.get(message.room) ?? [];
    history.push(message);
    if (history.length > HISTORY) history.shift();
    this.rooms.set(message.room, history);
    return message;
  }

  history(room: string): ChatMessage[] {
    return this.rooms.get(room) ?? [];
  }

  roomNames(): string[] {
    return [...this.rooms.keys()];
  }
}
