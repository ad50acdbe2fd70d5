import { IsString, MaxLength } from 'class-validator';

export class HelloMessage {
  @IsString()
  @MaxLength(100)
  name!: string;
}
