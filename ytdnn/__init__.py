"""ytdnn."""
