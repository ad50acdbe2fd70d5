import { IsString, Length } from 'class-validator';

/**
 * Room names: letters, digits, `_` and `-`, 1 to 64 characters. Used in the STOMP mappings (a
 * SEND to another name matches no mapping and is reported on the sender's error destination) and
 * for the HTTP endpoint (400).
 */
export const ROOM_NAME = '[A-Za-z0-9_-]{1,64}';

/** What a client sends to /app/chat/{room}. */
export class ChatMessageDto {
  @IsString()
  @Length(1, 500)
  text!: string;
}

/** What subscribers of /topic/chat/{room} receive. */
export interface ChatMessage {
  room: string;
  from: string;
  text: string;
  sentAt: string;
}
