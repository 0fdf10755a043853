from django.db import migrations


def create_sequence_row(apps, schema_editor):
    apps.get_model("whatsapp", "HubSequence").objects.get_or_create(name="hub_event", defaults={"value": 0})


class Migration(migrations.Migration):
    dependencies = [("whatsapp", "0001_initial")]

    operations = [migrations.RunPython(create_sequence_row, migrations.RunPython.noop)]
