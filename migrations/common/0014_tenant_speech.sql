-- A school's transcription settings: the recogniser model and its classes' default language.
alter table tenants add column transcription_model text not null default 'tiny.en';
alter table tenants add column speech_language text not null default 'en';
