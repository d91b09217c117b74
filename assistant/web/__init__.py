"""The Gradio web app: the Ask and Library tabs, the HTML they show, interface text, and which
uploaded files and logins a request carries."""
