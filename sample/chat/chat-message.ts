import { IsString, Length } from 'class-validator';

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
